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
  // deno-lint-ignore no-control-regex
  for (const line of lines) assert(!/[\x00-\x08\x0b-\x1f\x7f]/.test(line), JSON.stringify(line));
  assert(lines.some((l) => l.includes('rejected "XYZZY\\r\\x1b[2J\\x00forged line"')), text);
});

relayTest(
  "addresses that are not valid UTF-8 are refused as syntax errors (RFC 6531)",
  "",
  async (r) => {
    const latin1 = (s: string) => Uint8Array.from(s, (ch) => ch.charCodeAt(0));
    const c = await session(r.port);
    await c.send(latin1("MAIL FROM:<j\xe9r\xf4me@example.test> SMTPUTF8\r\n"));
    assertEquals(await c.replies(1), ["553 5.1.7 Bad sender address syntax: not valid UTF-8"]);
    await c.send(latin1("MAIL FROM:<a\xc0\xae@example.test> SMTPUTF8\r\n")); // overlong "."
    assertEquals(await c.replies(1), ["553 5.1.7 Bad sender address syntax: not valid UTF-8"]);
    await c.send("MAIL FROM:<jérôme@example.test> SMTPUTF8\r\n");
    assertEquals(await c.replies(1), ["250 2.1.0 Sender OK"]);
    await c.send(latin1("RCPT TO:<b\xc0\xae@example.test>\r\n"));
    assertEquals(await c.replies(1), ["553 5.1.3 Bad recipient address syntax: not valid UTF-8"]);
    await c.send(latin1("RCPT TO:<b\xff@example.test>\r\n"));
    assertEquals(await c.replies(1), ["553 5.1.3 Bad recipient address syntax: not valid UTF-8"]);
    await c.send("RSET\r\n");
    await c.replies(1);
    // Without SMTPUTF8, 8-bit addresses stay refused, well-formed or not.
    await c.send("MAIL FROM:<jérôme@example.test>\r\n");
    assertEquals(await c.replies(1), ["553 5.6.7 Non-ASCII address requires SMTPUTF8"]);
    await c.send(latin1("MAIL FROM:<j\xe9r\xf4me@example.test>\r\n"));
    assertEquals(await c.replies(1), ["553 5.1.7 Bad sender address syntax: not valid UTF-8"]);
    c.close();
    assertEquals(await r.messages(), []);
  },
);

relayTest(
  "with greeting_delay = 0s, input sent before the banner is still refused",
  '[smtp]\ngreeting_delay = "0s"',
  async (r) => {
    let refused = 0;
    const tries = 20;
    for (let i = 0; i < tries; i++) {
      const c = await RawClient.connect(r.port);
      await c.send("EHLO early.test\r\n"); // at once: before the banner can have arrived
      const replies = await c.replies(2, 1000);
      if (replies.some((l) => l === "554 5.5.0 SMTP synchronization error")) refused++;
      c.close();
    }
    // Bytes that reach the relay only after the banner went out cannot be told from a
    // client that waited; before the fix none of the 20 was refused.
    assert(refused >= tries - 2, `${refused} of ${tries} early talkers refused`);
    // A client that waits for the banner is served as usual.
    const ok = await session(r.port);
    ok.close();
  },
);

relayTest(
  "reserved connection slots keep trusted clients in when strangers fill the rest",
  `[server]
max_connections = 6
reserved_connections = 2
trusted_networks = ["127.0.0.1/32"]
[[listen]]
address = "127.0.0.1:0"
[[listen]]
address = "[::1]:0"`,
  async (r) => {
    const v6 = r.server.addresses.find((a) => a.hostname === "::1")!.port;
    const open: RawClient[] = [];
    try {
      // Strangers (::1 is not trusted here) get the four unreserved slots, then 421.
      for (let i = 0; i < 4; i++) {
        const c = await RawClient.connect(v6, "::1");
        open.push(c);
        assertMatch((await c.replies(1))[0] ?? "", /^220 /);
      }
      const excess = await RawClient.connect(v6, "::1");
      open.push(excess);
      assertEquals(await excess.replies(1), [
        "421 4.7.0 relay.test Too many connections, try again later",
      ]);
      // A trusted client takes the reserved slots, up to max_connections.
      for (let i = 0; i < 2; i++) {
        const t = await RawClient.connect(r.port);
        open.push(t);
        assertMatch((await t.replies(1))[0] ?? "", /^220 /);
      }
      const full = await RawClient.connect(r.port);
      open.push(full);
      assertMatch((await full.replies(1))[0] ?? "", /^421 /);
      await r.waitLog(/refused: too many connections \(4, 2 reserved/);
    } finally {
      for (const c of open) c.close();
    }
  },
);

const SMUGGLES = [
  "\n.\n",
  "\n.\r\n",
  "\r\n.\n",
  "\r.\r",
  "\r.\n",
  "\r.\r\n",
  "\r\n.\r",
  "\n.\r",
  "\r\n.\r\r\n",
  "\n\r\n.\r\n",
];

/** One BDAT LAST message with `smuggle` inside; returns the reply to the chunk. */
async function bdat(c: RawClient, smuggle: string, split: boolean): Promise<string> {
  const body = `Subject: one\r\n\r\nbody${smuggle}MAIL FROM:<evil@example.com>\r\nend\r\n`;
  await c.send("MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\n");
  assertEquals((await c.replies(2)).map((l) => l.slice(0, 3)), ["250", "250"]);
  const bytes = new TextEncoder().encode(body);
  if (split) { // cut inside the sequence: state must carry across chunks
    const cut = body.indexOf(smuggle) + 1;
    await c.send(`BDAT ${cut}\r\n`);
    await c.send(bytes.subarray(0, cut));
    assertMatch((await c.replies(1))[0], /^250 /);
    await c.send(`BDAT ${bytes.length - cut} LAST\r\n`);
    await c.send(bytes.subarray(cut));
  } else {
    await c.send(`BDAT ${bytes.length} LAST\r\n`);
    await c.send(bytes);
  }
  return (await c.replies(1))[0];
}

relayTest(
  "BDAT follows bare_newline = reject like DATA",
  '[smtp]\nbare_newline = "reject"',
  async (r) => {
    for (const split of [false, true]) {
      for (const smuggle of SMUGGLES) {
        const c = await session(r.port); // each refusal counts as an error: one session each
        assertEquals(
          await bdat(c, smuggle, split),
          "550 5.5.2 Message contains bare <CR> or <LF>; lines must end in <CR><LF>",
          JSON.stringify(smuggle),
        );
        c.close();
      }
    }
    assertEquals(await r.messages(), []);
  },
);

relayTest("BDAT follows bare_newline = normalize like DATA", "", async (r) => {
  const c = await session(r.port);
  for (const split of [false, true]) {
    for (const smuggle of SMUGGLES) {
      assertMatch(await bdat(c, smuggle, split), /^250 2\.0\.0 /, JSON.stringify(smuggle));
    }
  }
  c.close();
  const messages = await r.messages();
  assertEquals(messages.length, SMUGGLES.length * 2);
  for (const m of messages) {
    const body = await r.body(m.id);
    assert(!/\r(?!\n)|(?<!\r)\n/.test(body), JSON.stringify(body));
    assertMatch(body, /body\r\n/);
  }
});
