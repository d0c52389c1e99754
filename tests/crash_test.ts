/** Durability: a message that got 250 survives kill -9 of the relay. */
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { relayCli, spawnRelay } from "./helpers/relay.ts";
import { python } from "./helpers/clients.ts";

// Mail must stay queued here (the sandbox's DNS would bounce it): Exim's queue_only.
const QUEUE_ONLY = "[queue]\ndeliver = false\n";

Deno.test({
  name: "kill -9 right after a 250: every accepted message is in the spool after restart",
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "relay-crash-" });
    const relay = await spawnRelay(dir, QUEUE_ONLY);
    // Send in parallel sessions and kill the relay the moment the 20th 250 arrives.
    const py = await python(
      `
import smtplib, os, threading, json, signal
port = int(os.environ["PORT"]); pid = int(os.environ["PID"])
accepted = []; lock = threading.Lock(); killed = threading.Event()
def worker(n):
    try:
        s = smtplib.SMTP("127.0.0.1", port, timeout=10)
        s.ehlo("c.test")
        for i in range(50):
            s.mail(f"s{n}@example.com"); s.rcpt("r@example.org")
            code, msg = s.data(f"Subject: {n}-{i}\\r\\n\\r\\nbody\\r\\n".encode())
            if code == 250:
                with lock:
                    accepted.append(msg.decode().split()[-1])
                    if len(accepted) == 20 and not killed.is_set():
                        killed.set(); os.kill(pid, signal.SIGKILL)
    except Exception:
        pass
ts = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
[t.start() for t in ts]; [t.join() for t in ts]
print(json.dumps(accepted))
`,
      { PORT: String(relay.port), PID: String(relay.child.pid) },
    );
    const code = await relay.stop();
    assertEquals(
      code,
      137,
      `killed by SIGKILL; got ${code}; ${py.stderr}; ${relay.lines.join("\n")}`,
    );
    const accepted = JSON.parse(py.stdout) as string[];
    assert(accepted.length >= 20, py.stderr);
    // Restart and check with the CLI that every acknowledged id is there.
    const list = await relayCli(["queue", "list", "--json", "--config", relay.configPath]);
    assertEquals(list.code, 0, list.stderr);
    const ids = new Set((JSON.parse(list.stdout) as { id: string }[]).map((e) => e.id));
    for (const id of accepted) assert(ids.has(id), `message ${id} was acknowledged but is missing`);
    const again = await spawnRelay(dir, QUEUE_ONLY);
    assertEquals(await again.stop("SIGTERM"), 0);
    assert(again.lines.some((l) => /edge relay stopped/.test(l)), again.lines.join("\n"));
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name: "queue list/show/remove manage spooled messages; --help works",
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "relay-cli-" });
    const relay = await spawnRelay(dir, QUEUE_ONLY);
    const py = await python(
      `
import smtplib, os
s = smtplib.SMTP("127.0.0.1", int(os.environ["PORT"]))
print(s.sendmail("a@example.com", ["b@example.org", "c@example.org"], b"Subject: cli test\\r\\nMessage-ID: <m1@example.com>\\r\\n\\r\\nhi\\r\\n") or "ok")
`,
      { PORT: String(relay.port) },
    );
    assertEquals(py.stdout.trim(), "ok", py.stderr);
    assertEquals(await relay.stop(), 0);
    const cfg = ["--config", relay.configPath];
    const list = await relayCli(["queue", "list", ...cfg]);
    assertMatch(
      list.stdout,
      /[0-9A-Z]{17} <a@example\.com>\n\s+b@example\.org pending\n\s+c@example\.org pending/,
    );
    const id = /([0-9A-Z]{17})/.exec(list.stdout)![1];
    const show = await relayCli(["queue", "show", id, ...cfg]);
    assertMatch(show.stdout, /"sender": "a@example\.com"/);
    assertMatch(show.stdout, /Subject: cli test/);
    assertMatch(show.stdout, /Received: from/);
    assertEquals((await relayCli(["queue", "remove", id, ...cfg])).code, 0);
    assertEquals((await relayCli(["queue", "show", id, ...cfg])).code, 1);
    assertMatch((await relayCli(["queue", "list", ...cfg])).stdout, /queue is empty/);
    const bad = await relayCli(["queue", "show", "nonsense", ...cfg]);
    assertEquals(bad.code, 2);
    assertMatch(bad.stderr, /is not a message id/);
    for (const cmd of [["serve"], ["queue"], ["check-config"], ["passwd"]]) {
      const help = await relayCli([...cmd, "--help"]);
      assertEquals(help.code, 0, cmd.join(" "));
      assertMatch(help.stdout, /Usage: relay/);
    }
    await Deno.remove(dir, { recursive: true });
  },
});
