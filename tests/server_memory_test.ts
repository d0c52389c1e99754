/**
 * Memory that does not grow with what clients send (issue 9): the relay runs as its own
 * process and its resident set is read from /proc while clients upload large messages or hold
 * many idle connections.
 */
import { assert, assertEquals } from "./helpers/assert.ts";
import { relayTest, spawnRelay, type TestRelay } from "./helpers/relay.ts";
import { python } from "./helpers/clients.ts";
import { Spool } from "../lib/spool/mod.ts";

const MiB = 1024 * 1024;

/** Prints a measured figure with the test's output. */
function print(line: string): void {
  Deno.stdout.writeSync(new TextEncoder().encode(line + "\n"));
}

/** VmRSS of a process in bytes. */
async function rss(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)![1]) * 1024;
}

/** Samples a process's RSS every 100 ms while `work` runs; returns the work's result and the peak. */
async function peakRssDuring<T>(
  pid: number,
  work: Promise<T>,
): Promise<{ value: T; peak: number }> {
  let peak = await rss(pid);
  let done = false;
  const sampler = (async () => {
    while (!done) {
      peak = Math.max(peak, await rss(pid).catch(() => 0));
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  try {
    return { value: await work, peak };
  } finally {
    done = true;
    await sampler;
  }
}

/** Sends one small message with smtplib so that everything a transaction uses is loaded. */
async function warmUp(port: number): Promise<void> {
  const r = await runPython(
    `import smtplib, os
s = smtplib.SMTP("127.0.0.1", int(os.environ["PORT"]), timeout=20)
s.sendmail("a@client.test", ["b@local.test"], b"Subject: warm\\r\\n\\r\\nhi\\r\\n")
s.quit()`,
    { PORT: String(port) },
    30_000,
  );
  assertEquals(r.code, 0, r.stderr);
}

async function runPython(
  script: string,
  env: Record<string, string>,
  ms: number,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const r = await new Deno.Command("python3", {
    args: ["-c", script],
    env,
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
    signal: AbortSignal.timeout(ms),
  }).output();
  const dec = new TextDecoder();
  return { code: r.code, stdout: dec.decode(r.stdout), stderr: dec.decode(r.stderr) };
}

// smtplib speaks the protocol; the body goes out in 64 KiB pieces on its socket, so that the
// client does not hold (or dot-stuff) 45 MB per thread.
const UPLOADS = `import smtplib, os, threading, json
port = int(os.environ["PORT"]); n = int(os.environ["N"]); size = int(os.environ["SIZE"])
line = b"0123456789abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ\\r\\n"
piece = line * (65536 // len(line))
results = [None] * n
def upload(i):
    s = smtplib.SMTP("127.0.0.1", port, timeout=120)
    s.ehlo("client.test")
    s.mail("sender%d@client.test" % i)
    s.rcpt("big%d@local.test" % i)
    code, _ = s.docmd("DATA")
    assert code == 354, code
    s.sock.sendall(b"Subject: big %d\\r\\n\\r\\n" % i)
    sent = 0
    while sent < size:
        s.sock.sendall(piece)
        sent += len(piece)
    s.sock.sendall(b".\\r\\n")
    results[i] = s.getreply()[0]
    s.quit()
threads = [threading.Thread(target=upload, args=(i,)) for i in range(n)]
for t in threads: t.start()
for t in threads: t.join()
print(json.dumps(results))`;

Deno.test({
  name: "20 concurrent 45 MB uploads add at most 50 MB to the relay's RSS",
  // Large uploads take a while on a loaded machine; bounded by the client's timeouts.
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "relay-mem-" });
    const relay = await spawnRelay(
      dir,
      `[server]\nlocal_domains = ["local.test"]\n[queue]\ndeliver = false`,
    );
    try {
      await warmUp(relay.port);
      await new Promise((r) => setTimeout(r, 500));
      const before = await rss(relay.child.pid);
      const n = 20;
      const size = 45 * 1_000_000;
      const { value: r, peak } = await peakRssDuring(
        relay.child.pid,
        runPython(UPLOADS, { PORT: String(relay.port), N: String(n), SIZE: String(size) }, 400_000),
      );
      assertEquals(r.code, 0, r.stderr);
      assertEquals(JSON.parse(r.stdout), Array(n).fill(250));
      const grew = (peak - before) / 1e6;
      print(
        `relay RSS: ${(before / MiB).toFixed(1)} MiB before, ${(peak / MiB).toFixed(1)} MiB at ` +
          `peak during ${n} concurrent ${size / 1e6} MB uploads: +${grew.toFixed(1)} MB`,
      );
      assert(grew <= 50, `RSS grew by ${grew.toFixed(1)} MB (at most 50 allowed)`);
      await relay.stop();
      const spool = await Spool.open(`${dir}/spool`);
      try {
        let count = 0;
        for await (const e of spool.list()) {
          if (!e.sender.startsWith("sender")) continue; // the warm-up message
          count++;
          assert(e.size > size && /^[0-9a-f]{64}$/.test(e.bodySha256 ?? ""), JSON.stringify(e));
          let bytes = 0;
          for await (const c of spool.body(e.id)) bytes += c.length;
          assertEquals(bytes, e.size, `stored body of ${e.id}`);
        }
        assertEquals(count, n);
      } finally {
        spool.close();
      }
    } finally {
      await relay.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "idle connections cost under 20 KiB each and the relay stays responsive",
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "relay-idle-" });
    const n = 2000;
    const relay = await spawnRelay(
      dir,
      `[server]\nlocal_domains = ["local.test"]\nmax_connections = ${n + 100}\n` +
        `max_connections_per_ip = ${n + 100}\n[queue]\ndeliver = false`,
    );
    const conns: Deno.TcpConn[] = [];
    try {
      await warmUp(relay.port);
      await new Promise((r) => setTimeout(r, 500));
      const before = await rss(relay.child.pid);
      const buf = new Uint8Array(512);
      for (let i = 0; i < n; i++) {
        const c = await Deno.connect({ hostname: "127.0.0.1", port: relay.port });
        conns.push(c);
      }
      // Every session has sent its greeting and waits for a command.
      for (const c of conns) {
        const got = await c.read(buf);
        assert(got !== null && new TextDecoder().decode(buf.subarray(0, got)).startsWith("220"));
      }
      await new Promise((r) => setTimeout(r, 500));
      const idle = await rss(relay.child.pid);
      const each = (idle - before) / n / 1024;
      print(
        `relay RSS: ${(before / MiB).toFixed(1)} MiB before, ${(idle / MiB).toFixed(1)} MiB ` +
          `with ${n} idle sessions: ${each.toFixed(1)} KiB each ` +
          `(10,000 would cost ${(each * 10_000 / 1024).toFixed(0)} MiB)`,
      );
      assert(each < 20, `${each.toFixed(1)} KiB per idle session (under 20 expected)`);
      await warmUp(relay.port); // still serving
    } finally {
      for (const c of conns) c.close();
      await relay.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/** Keys under a prefix in the relay's spool (body chunks, partial markers). */
async function spoolKeys(r: TestRelay, prefix: string): Promise<number> {
  let n = 0;
  for await (const _ of r.spool.kv.list({ prefix: [prefix] })) n++;
  return n;
}

/** Waits up to 5 s until the spool holds no body chunk and no partial marker. */
async function spoolEmpty(r: TestRelay): Promise<void> {
  const until = Date.now() + 5000;
  while ((await spoolKeys(r, "body")) + (await spoolKeys(r, "partial")) > 0) {
    if (Date.now() > until) {
      throw new Error(
        `spool still holds ${await spoolKeys(r, "body")} chunks, ` +
          `${await spoolKeys(r, "partial")} partial markers`,
      );
    }
    await new Promise((res) => setTimeout(res, 20));
  }
}

const SEND_BIG = `import smtplib, os
s = smtplib.SMTP("127.0.0.1", int(os.environ["PORT"]), timeout=20)
body = b"Subject: big\\r\\n\\r\\n" + b"x" * 76 + b"\\r\\n"
body = body + (b"y" * 78 + b"\\r\\n") * (int(os.environ["SIZE"]) // 80)
s.ehlo("client.test")
s.esmtp_features.pop("size", None)  # no SIZE=: the relay learns the size while streaming
try:
    s.sendmail("a@client.test", ["b@local.test"], body)
    print(250)
except smtplib.SMTPDataError as e:
    print(e.smtp_code)
s.quit()`;

relayTest(
  "a streamed body refused by the data ACL leaves no chunk or partial in the spool",
  `[server]\nlocal_domains = ["local.test"]\n[[acl.data]]\ndeny = 'true'\nmessage = "no"`,
  async (r) => {
    const out = await python(SEND_BIG, { PORT: String(r.port), SIZE: "3000000" });
    assertEquals(out.stdout.trim(), "550", out.stderr);
    await spoolEmpty(r);
    assertEquals((await r.messages()).length, 0);
  },
);

relayTest(
  "a streamed body over max_message_size gets 552 and its partial is dropped",
  `[server]\nlocal_domains = ["local.test"]\n[smtp]\nmax_message_size = "1M"`,
  async (r) => {
    const out = await python(SEND_BIG, { PORT: String(r.port), SIZE: "3000000" });
    assertEquals(out.stdout.trim(), "552", out.stderr);
    await spoolEmpty(r);
    assertEquals((await r.messages()).length, 0);
  },
);
