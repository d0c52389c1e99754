/**
 * Session hardening, with a scripted raw client for what real clients cannot be made to do:
 * control bytes in commands, talking before a zero-delay banner, BDAT smuggling, invalid
 * UTF-8 addresses, connection slots kept for trusted clients.
 */
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { relayTest } from "./helpers/relay.ts";
import { RawClient } from "./helpers/raw_smtp.ts";

async function session(port: number, ehlo = true): Promise<RawClient> {
  const c = await RawClient.connect(port);
  const [greeting] = await c.replies(1);
  assertMatch(greeting, /^220 /);
  if (ehlo) {
    await c.send("EHLO c.test\r\n");
    assertMatch((await c.replies(1))[0], /^250 /);
  }
  return c;
}

relayTest("text log lines escape the client's CR, LF, ESC and NUL bytes", "", async (r) => {
  const c = await session(r.port);
  await c.send("XYZZY\r\x1b[2J\x00forged line\r\n");
  assertEquals(await c.replies(1), ["500 5.5.2 Command unrecognized"]);
  await c.send("HELO \x1b]0;owned\x07\r\nQUIT\r\n");
  await c.replies(2);
  c.close();
  await r.waitLog(/rejected "XYZZY/);
  const text = await Deno.readTextFile(r.logFile);
  const lines = text.split("\n").filter(Boolean);
  for (const line of lines) assert(!/[\x00-\x08\x0b-\x1f\x7f]/.test(line), JSON.stringify(line));
  assert(lines.some((l) => l.includes('rejected "XYZZY\\r\\x1b[2J\\x00forged line"')), text);
});
