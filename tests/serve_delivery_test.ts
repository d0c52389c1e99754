/** `relay serve` runs the queue: accepted mail goes out; the queue CLI works beside it. */
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { relayCli, spawnRelay } from "./helpers/relay.ts";
import { python } from "./helpers/clients.ts";
import { smtpSink } from "./helpers/postfix.ts";
import { waitFor } from "./helpers/wait.ts";

async function until(what: string, ok: () => Promise<boolean>, ms = 15000): Promise<void> {
  await waitFor(ok, { timeoutMs: ms, intervalMs: 100, what });
}

/** Routes every recipient to one smarthost on 127.0.0.1:port, without TLS. */
function smarthost(port: number): string {
  return `[[route]]\ndomains = "*"\ntransport = "out"\n` +
    `[transport.out]\ndriver = "smtp"\nhosts = ["127.0.0.1:${port}"]\ntls = "off"\n`;
}

Deno.test({
  name:
    "relay serve delivers accepted mail to a smarthost (Postfix smtp-sink) and empties the queue",
  async fn() {
    const sink = await smtpSink({ dump: true });
    const dir = await Deno.makeTempDir({ prefix: "relay-serve-" });
    const relay = await spawnRelay(
      dir,
      smarthost(sink.port),
    );
    try {
      const py = await python(
        `
import smtplib, os
s = smtplib.SMTP("127.0.0.1", int(os.environ["PORT"]))
for i in range(3):
    s.sendmail("a@example.com", [f"u{i}@example.org"], f"Subject: m{i}\\r\\n\\r\\nbody {i}\\r\\n".encode())
s.quit()
print("sent")
`,
        { PORT: String(relay.port) },
      );
      assertEquals(py.stdout.trim(), "sent", py.stderr);
      await until("3 messages at the sink", async () => (await sink.messages()).length >= 3);
      const got = (await sink.messages()).join("\n");
      assertMatch(got, /Subject: m0[^]*body 0/);
      assertMatch(got, /Received: from /);
      await until(
        "the => lines",
        () =>
          Promise.resolve(relay.lines.filter((l) => / => u\d@example\.org /.test(l)).length === 3),
      );
      await until(
        "an empty queue",
        async () =>
          /queue is empty/.test(
            (await relayCli(["queue", "list", "--config", relay.configPath])).stdout,
          ),
      );
    } finally {
      assertEquals(await relay.stop(), 0);
      await sink.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "queue flush and remove --bounce are handed to the running relay; run --once works alone",
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "relay-flush-" });
    // A smarthost that refuses connections: mail stays deferred.
    const relay = await spawnRelay(
      dir,
      smarthost(9),
    );
    const cfg = ["--config", relay.configPath];
    try {
      const py = await python(
        `
import smtplib, os
s = smtplib.SMTP("127.0.0.1", int(os.environ["PORT"]))
s.sendmail("a@example.com", ["u@example.org"], b"Subject: stuck\\r\\n\\r\\nbody\\r\\n")
s.sendmail("b@example.com", ["v@example.org"], b"Subject: stuck too\\r\\n\\r\\nbody\\r\\n")
print("sent")
`,
        { PORT: String(relay.port) },
      );
      assertEquals(py.stdout.trim(), "sent", py.stderr);
      await until(
        "deferrals",
        () => Promise.resolve(relay.lines.filter((l) => / == /.test(l)).length >= 2),
      );
      const list = await relayCli(["queue", "list", ...cfg]);
      assertMatch(list.stdout, /u@example\.org deferred next .*\(/);
      const id = /([0-9A-Z]{17}) <a@example\.com>/.exec(list.stdout)![1];
      const flush = await relayCli(["queue", "flush", ...cfg]);
      assertMatch(flush.stdout, /handed to the running relay/);
      const removed = await relayCli(["queue", "remove", id, "--bounce", ...cfg]);
      assertEquals(removed.code, 0, removed.stderr);
      assertMatch(removed.stdout, /handed to the running relay/);
      await until("the running relay to remove it", async () => {
        const now = await relayCli(["queue", "list", ...cfg]);
        return !now.stdout.includes(id);
      });
    } finally {
      assertEquals(await relay.stop(), 0);
    }
    // With the relay stopped, the CLI acts on the spool itself.
    const after = await relayCli(["queue", "list", "--json", ...cfg]);
    const left = JSON.parse(after.stdout) as {
      sender: string;
      recipients: { address: string }[];
    }[];
    assert(!left.some((m) => m.sender === "a@example.com"), "the removed message is gone");
    assert(
      left.some((m) => m.sender === "" && m.recipients[0].address === "a@example.com"),
      "its bounce is queued",
    );
    const run = await relayCli(["queue", "run", "--once", ...cfg]);
    assertEquals(run.code, 0, run.stderr);
    assertMatch(run.stdout, /\d+ message\(s\): \d+ delivered, \d+ deferred/);
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name: "check-config names the line of an ACL that does not compile and of a bad route",
  async fn() {
    const dir = await Deno.makeTempDir();
    await Deno.writeTextFile(
      `${dir}/acl.toml`,
      `[server]\nhostname = "x.test"\n\n[[acl.rcpt]]\naccept = "rcpt.domain =="\n`,
    );
    const acl = await relayCli(["check-config", "--config", `${dir}/acl.toml`]);
    assertEquals(acl.code, 1);
    assertMatch(
      acl.stderr,
      /acl\.toml:5: acl\.rcpt\[0\]\.accept: Cannot compile acl\.rcpt\[0\]\.accept/,
    );
    await Deno.writeTextFile(
      `${dir}/route.toml`,
      `[[route]]\ndomains = "*"\ntransport = "nowhere"\n`,
    );
    const route = await relayCli(["check-config", "--config", `${dir}/route.toml`]);
    assertEquals(route.code, 1);
    assertMatch(route.stderr, /route\.toml:1: route: /);
    await Deno.remove(dir, { recursive: true });
  },
});
