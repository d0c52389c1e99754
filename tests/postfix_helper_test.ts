import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { smtpSink, smtpSource, startPostfix } from "./helpers/postfix.ts";
import { waitFor } from "./helpers/wait.ts";
import { swaksRun } from "./helpers/clients.ts";

async function swaks(port: number, to: string, extra: string[] = []): Promise<string> {
  const out = await swaksRun([
    "--server",
    `127.0.0.1:${port}`,
    "--from",
    "sender@example.org",
    "--to",
    to,
    "--timeout",
    "10",
    ...extra,
  ]);
  return out.stdout + out.stderr;
}

Deno.test("startPostfix() in hold mode keeps every accepted message on hold", async () => {
  const pf = await startPostfix({ mode: "hold" });
  try {
    for (let i = 0; i < 5; i++) {
      const out = await swaks(pf.port, `user${i}@example.com`);
      assertMatch(out, /250 2\.0\.0 Ok: queued as/);
    }
    await waitFor(async () => (await pf.queueCount("hold")) === 5, { what: "5 held messages" });
    assertEquals(await pf.queueCount(), 5);
    assertMatch(await pf.log(), /Client host triggers HOLD action/);
  } finally {
    await pf.stop();
  }
  await assertGone(pf.dir);
});

Deno.test("startPostfix() relays to smtp-sink and applies recipientAccess", async () => {
  const sink = await smtpSink({ dump: true });
  const pf = await startPostfix({
    mode: "relay",
    relayTo: `127.0.0.1:${sink.port}`,
    recipientAccess: { "nobody@example.com": "550 5.1.1 No such user" },
  });
  try {
    assertMatch(await swaks(pf.port, "nobody@example.com"), /550 5\.1\.1 .*No such user/);
    const r = await smtpSource({ port: pf.port, messages: 3, sessions: 2, size: 2048 });
    assert(r.success, r.stderr);
    await waitFor(() => sink.count() === 3, { what: "3 messages at smtp-sink" });
    const msgs = await sink.messages();
    assertEquals(msgs.length, 3);
    assertMatch(msgs[0], /X-Rcpt-Args: <sink@example\.com>/);
    await waitFor(async () => (await pf.queueCount()) === 0, { what: "an empty Postfix queue" });
  } finally {
    await pf.stop();
    await sink.stop();
  }
});

Deno.test("startPostfix() in final mode delivers its domains to a Maildir only", async () => {
  const pf = await startPostfix({ mode: "final", domains: ["sink.test"] });
  try {
    assertMatch(await swaks(pf.port, "alice@sink.test", ["--header", "Subject: hello"]), /250 /);
    assertMatch(await swaks(pf.port, "bob@elsewhere.test"), /554 5\.7\.1 .*Relay access denied/);
    await waitFor(async () => (await pf.delivered()).length === 1, { what: "one delivery" });
    const [msg] = await pf.delivered();
    assertMatch(msg, /Subject: hello/);
    assertMatch(msg, /Delivered-To: alice@sink\.test/);
  } finally {
    await pf.stop();
  }
});

async function assertGone(path: string): Promise<void> {
  try {
    await Deno.stat(path);
    assert(false, `${path} still exists`);
  } catch (e) {
    assert(e instanceof Deno.errors.NotFound);
  }
}
