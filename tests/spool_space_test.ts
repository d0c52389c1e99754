/** The free-space reserve (spool_min_free), on a real small filesystem (a tmpfs, as root). */
import { assert, assertEquals } from "./helpers/assert.ts";
import { spawnRelay } from "./helpers/relay.ts";
import { python } from "./helpers/clients.ts";
import { FreeSpace } from "../lib/spool/mod.ts";

async function run(cmd: string, args: string[]): Promise<void> {
  const r = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  if (!r.success) {
    throw new Error(
      `${cmd} ${args.join(" ")} failed (this test needs root for a tmpfs): ${
        new TextDecoder().decode(r.stderr)
      }`,
    );
  }
}

/** MAIL FROM (with SIZE= when given) and, when accepted, a whole small message: the codes. */
const SEND = `
import smtplib, os, json
s = smtplib.SMTP("127.0.0.1", int(os.environ["PORT"]), timeout=10)
s.ehlo("c.test")
opts = ["SIZE=" + os.environ["SIZE"]] if os.environ.get("SIZE") else []
code, msg = s.mail("s@example.com", opts)
out = [code, msg.decode()]
if code == 250:
    s.rcpt("r@example.org")
    out.append(s.data(b"Subject: x\\r\\n\\r\\nhi\\r\\n")[0])
s.quit()
print(json.dumps(out))
`;

async function send(port: number, size?: number): Promise<[number, string, number?]> {
  const r = await python(SEND, { PORT: String(port), SIZE: size ? String(size) : "" });
  assertEquals(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

async function until(cond: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`condition not met in time: ${cond}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

Deno.test({
  name: "below spool_min_free, MAIL gets 452 4.3.1 before any body; logged once per change",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "relay-space-" });
    const spoolDir = `${dir}/spool`;
    await Deno.mkdir(spoolDir);
    await run("mount", ["-t", "tmpfs", "-o", "size=16m", "tmpfs", spoolDir]);
    try {
      const relay = await spawnRelay(
        dir,
        `[server]\nlocal_domains = ["example.org"]\nspool_min_free = "6M"\n[queue]\ndeliver = false\n`,
      );
      try {
        assertEquals(await send(relay.port), [250, "2.1.0 Sender OK", 250]);
        // A declared size that would eat into the reserve is refused at MAIL.
        const big = await send(relay.port, 14 * 1024 * 1024);
        assertEquals(big[0], 452, JSON.stringify(big));
        assert(big[1].startsWith("4.3.1 "), big[1]);
        // Fill the filesystem to under the reserve: every MAIL gets 452, one log line.
        const fill = await Deno.open(`${spoolDir}/filler`, { write: true, create: true });
        await fill.write(new Uint8Array(11 * 1024 * 1024));
        fill.close();
        await until(async () => (await send(relay.port))[0] === 452);
        for (let i = 0; i < 5; i++) assertEquals((await send(relay.port))[0], 452);
        const low = relay.lines.filter((l) => /low on space/.test(l));
        assertEquals(low.length, 1, relay.lines.join("\n"));
        // Room again: accepted, and said once.
        await Deno.remove(`${spoolDir}/filler`);
        await until(async () => (await send(relay.port))[0] === 250);
        assertEquals(relay.lines.filter((l) => /has room again/.test(l)).length, 1);
      } finally {
        await relay.stop();
      }
    } finally {
      await run("umount", [spoolDir]);
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("FreeSpace asks the filesystem at most once a second and reports crossings", () => {
  let now = 0;
  let free = 500;
  let calls = 0;
  const changes: boolean[] = [];
  const space = new FreeSpace("/x", 100, (c) => changes.push(c.low), {
    now: () => now,
    statvfs: () => (calls++, free),
  });
  assert(space.room(300));
  assert(!space.room(450));
  free = 50;
  assert(space.room(), "cached for a second");
  now = 1000;
  assert(!space.room());
  now = 2000;
  assert(!space.room());
  free = 1000;
  now = 3000;
  assert(space.room());
  assertEquals(calls, 4);
  assertEquals(changes, [true, false]);
});
