import { spawnRelay } from "./helpers/relay.ts";
import { testEnvelope } from "./helpers/envelope.ts";
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { deliveryConfigSchema } from "../lib/config/schema_delivery.ts";
import { createQueueRunner } from "../lib/queue/mod.ts";
import { Spool } from "../lib/spool/mod.ts";
import { type Envelope, newMessageId } from "../lib/envelope/mod.ts";
import { TestDnsServer } from "./helpers/dns_server.ts";
import { hashPassword } from "../lib/auth/mod.ts";
import { selfSignedCert } from "./helpers/fake_smtp_peer.ts";
import { startPostfix } from "./helpers/postfix.ts";
import { waitFor } from "./helpers/wait.ts";

async function enqueue(spool: Spool, rcpts: string[], body: string): Promise<string> {
  const id = newMessageId();
  await spool.store(testEnvelope({ id, recipients: rcpts, dsn: { envid: "ENV-1" } }), [
    new TextEncoder().encode(body),
  ]);
  return id;
}

/**
 * A second relay as the receiving peer: it keeps what it gets (queue only) and logs JSON to
 * `dir/main.log`. `toml` adds settings; `listen` adds keys to its listener.
 */
function receivingPeer(dir: string, toml: string, listen = "starttls = false\n") {
  const logFile = `${dir}/main.log`;
  return spawnRelay(
    dir,
    toml + `[[listen]]\naddress = "127.0.0.1:0"\n${listen}` +
      `[log]\nformat = "json"\nfile = "${logFile}"\n[queue]\ndeliver = false\n`,
    { logFile },
  );
}

/** The peer's `<=` arrival log entries. */
async function arrivalsIn(dir: string): Promise<Record<string, unknown>[]> {
  return (await Deno.readTextFile(`${dir}/main.log`)).split("\n").filter(Boolean)
    .map((l) => JSON.parse(l)).filter((l) => l.event === "arrival");
}

const BODY = "From: sender@origin.test\r\nTo: ok@sink.test\r\nSubject: via MX\r\n\r\n" +
  "Hello Postfix\r\n.a dotted line\r\n";

Deno.test("queue delivers by MX to a real Postfix: 250, 450 and 550 per recipient", async () => {
  const pf = await startPostfix({
    mode: "final",
    domains: ["sink.test"],
    recipientAccess: {
      "busy@sink.test": "450 4.2.1 Mailbox busy",
      "nobody@sink.test": "550 5.1.1 No such user",
    },
  });
  const dns = await TestDnsServer.start([
    { name: "sink.test", type: "MX", data: { preference: 10, exchange: "mx.sink.test" } },
    { name: "mx.sink.test", type: "A", data: "127.0.0.1" },
  ]);
  const spool = await Spool.open(":memory:");
  const lines: string[] = [];
  const runner = createQueueRunner(
    deliveryConfigSchema.parse({
      dns: { servers: [dns.address], timeout: "2s" },
      transport: { smtp: { port: pf.port, idle_timeout: "0s" } },
    }),
    {
      spool,
      hostname: "relay.test",
      log: { info: (l) => lines.push(l), warn: (l) => lines.push(l) },
    },
  );
  try {
    const id = await enqueue(spool, ["ok@sink.test", "busy@sink.test", "nobody@sink.test"], BODY);
    const sum = await runner.runOnce();
    assertEquals([sum.delivered, sum.deferred, sum.failed, sum.bounces], [1, 1, 1, 1]);
    const env = (await spool.get(id)) as Envelope;
    assertEquals(env.recipients.map((r) => r.status), ["delivered", "deferred", "failed"]);
    assertMatch(env.recipients[1].lastError!, /450 4\.2\.1 .*Mailbox busy/);
    assert(
      lines.some((l) => /=> ok@sink\.test T=smtp H=mx\.sink\.test \[127\.0\.0\.1\]:\d+/.test(l)),
    );
    await waitFor(async () => (await pf.delivered()).length === 1, { what: "one Maildir message" });
    const [got] = await pf.delivered();
    assertMatch(got, /Subject: via MX/);
    assertMatch(got, /\n\.a dotted line/);
    let bounce: Envelope | undefined;
    for await (const e of spool.list()) if (e.sender === "") bounce = e;
    const text = new TextDecoder().decode(await spool.readBody(bounce!.id));
    assertMatch(text, /Final-Recipient: rfc822;nobody@sink\.test/);
    assertMatch(text, /Diagnostic-Code: smtp; 550 5\.1\.1 /);
    assertMatch(text, /X-Remote-MTA-smtp-greeting: X-str; 220 /);
    assertMatch(text, /Original-Envelope-Id: ENV-1/);
  } finally {
    await runner.stop();
    spool.close();
    dns.close();
    await pf.stop();
  }
});

Deno.test("queue delivers to a second relay instance (relay serve)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "relay-peer-" });
  const peer = await receivingPeer(dir, `[server]\nhostname = "peer.test"\n`);
  const port = peer.port;
  const spool = await Spool.open(":memory:");
  const runner = createQueueRunner(
    deliveryConfigSchema.parse({
      route: [{ domains: "*", transport: "peer" }],
      transport: { peer: { hosts: [`127.0.0.1:${port}`], idle_timeout: "0s" } },
    }),
    { spool, hostname: "relay.test" },
  );
  try {
    const id = await enqueue(spool, ["a@far.test", "b@far.test"], "Subject: hop\r\n\r\nhi\r\n");
    assertEquals((await runner.runOnce()).delivered, 2);
    assertEquals(await spool.get(id), null);
    // The peer's own arrival log line tells what it accepted (whatever it does next).
    const arrivals = await arrivalsIn(dir);
    assertEquals(arrivals.length, 1);
    assertEquals(arrivals[0].sender, "sender@origin.test");
    assertEquals(arrivals[0].recipients, ["a@far.test", "b@far.test"]);
    assertEquals(arrivals[0].helo, "relay.test");
  } finally {
    await runner.stop();
    spool.close();
    await peer.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("queue relays through a relay smarthost with STARTTLS and AUTH", async () => {
  const dir = await Deno.makeTempDir({ prefix: "relay-auth-" });
  const tls = await selfSignedCert(dir, "smarthost.test");
  await Deno.writeTextFile(`${dir}/users`, `relay:${await hashPassword("s3cret", 10)}\n`);
  const peer = await receivingPeer(
    dir,
    `[server]\nhostname = "smarthost.test"\ntrusted_networks = []\n` +
      `[tls]\ncertificate = "${tls.cert}"\nprivate_key = "${tls.key}"\n` +
      `[auth]\ncredentials = "${dir}/users"\n`,
    "starttls = true\nrequire_auth = true\n",
  );
  const port = peer.port;
  const spool = await Spool.open(":memory:");
  const runnerFor = (password: string) =>
    createQueueRunner(
      deliveryConfigSchema.parse({
        route: [{ domains: "*", transport: "smart" }],
        transport: {
          smart: {
            hosts: [`127.0.0.1:${port}`],
            tls: "require",
            username: "relay",
            password,
            idle_timeout: "0s",
          },
        },
      }),
      { spool, hostname: "relay.test" },
    );
  const good = runnerFor("s3cret");
  const bad = runnerFor("wrong");
  try {
    const id = await enqueue(spool, ["x@far.test"], "Subject: authed\r\n\r\nhi\r\n");
    const refused = await bad.runOnce();
    assertEquals(refused.deferred, 1);
    assertMatch((await spool.get(id))!.recipients[0].lastError!, /Authentication failed: 535/);
    assertEquals((await good.flush(id)).delivered, 1);
    const arrivals = await arrivalsIn(dir);
    assertEquals(arrivals.length, 1);
    assertEquals(arrivals[0].auth, "relay");
    assert(arrivals[0].tls, "arrived over TLS");
  } finally {
    await Promise.all([good.stop(), bad.stop()]);
    spool.close();
    await peer.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
