// One behaviour suite run against every `Transport` (as Hono runs one suite on every router).
// Transports are built the way the relay builds them: `Router.build` from `[transport.NAME]`
// settings, then `route()`. The SMTP peers are real Postfix `smtp-sink`s, started once for
// the file and stopped by its last test.
import { Resolver } from "../lib/dns/mod.ts";
import type { Recipient } from "../lib/envelope/mod.ts";
import { DEFAULT_TRANSPORT, Router, type TransportSettings } from "../lib/router/mod.ts";
import type { OutboundMessage, RecipientResult, Transport } from "../lib/transport/mod.ts";
import { testEnvelope, testRecipient } from "./helpers/envelope.ts";
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { freePort, type SmtpSink, smtpSink } from "./helpers/postfix.ts";
import { waitFor } from "./helpers/wait.ts";

/** What one transport (in one setting) must answer for every recipient. */
interface Expected {
  /** The status every recipient gets. */
  status: RecipientResult["status"];
  /** The diagnostic of every recipient. */
  diagnostic: RegExp;
  /** The peer's reply code, when the outcome came from a peer's reply; none when absent. */
  replyCode?: number;
  /** Results carry the peer's address (`remote.ip`). */
  remote?: boolean;
  /** The peer's port, to check that `close()` leaves no connection to it open. */
  peerPort?: number;
  /** The transport keeps a connection to the peer open for reuse until `close()`. */
  reuses?: boolean;
}

/** ESTABLISHED TCP connections to 127.0.0.1:port, from /proc/net/tcp (Linux). */
async function openConnections(port: number): Promise<number> {
  const rows = (await Deno.readTextFile("/proc/net/tcp")).trim().split("\n").slice(1);
  const remote = `0100007F:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  return rows.map((r) => r.trim().split(/\s+/)).filter((f) => f[2] === remote && f[3] === "01")
    .length;
}

const STATUSES = new Set(["delivered", "deferred", "failed"]);
const BODY = new TextEncoder().encode("Subject: contract\r\n\r\nline one\r\n.leading dot\r\n");
const resolver = new Resolver({ servers: ["127.0.0.1:9"], timeout: 200, attempts: 1 });

function message(recipients: Recipient[]): OutboundMessage {
  return {
    envelope: testEnvelope({ recipients, size: BODY.length, chunks: 1 }),
    body: async function* () {
      yield BODY;
    },
  };
}

function recipients(tag: string, n = 3): Recipient[] {
  // Not in sorted order, so "in order" cannot pass by sorting.
  const locals = ["zed", "first.last+tag", "amy", "m_4", "b-2"];
  return Array.from(
    { length: n },
    (_, i) => testRecipient(`${locals[i % 5]}.${tag}${i}@dest.test`),
  );
}

/** Builds the transport named `name` through the router, as `serve` does. */
async function build(name: string, settings: Partial<TransportSettings>): Promise<Transport> {
  const router = Router.build({
    routes: [{ domains: ["*"], transport: name }],
    transports: { [name]: { ...DEFAULT_TRANSPORT, ...settings } },
    resolver,
    helo: "relay.test",
  });
  const t = await router.route("probe@dest.test");
  assert(t, `the router gives no transport for ${name}`);
  return t;
}

function checkResults(got: RecipientResult[], sent: Recipient[], expected: Expected): void {
  assertEquals(got.map((r) => r.address), sent.map((r) => r.address));
  for (const r of got) {
    assert(STATUSES.has(r.status), `status ${r.status}`);
    assertEquals(r.status, expected.status, `${r.address}: ${r.diagnostic}`);
    assertEquals(typeof r.diagnostic, "string");
    assert(r.diagnostic.trim().length > 0, `${r.address}: empty diagnostic`);
    assertMatch(r.diagnostic, expected.diagnostic);
    assertEquals(r.reply?.code, expected.replyCode, `${r.address}: ${r.diagnostic}`);
    if (expected.remote) assertEquals(r.remote?.ip, "127.0.0.1");
  }
}

/**
 * Runs the shared suite against the transport `make` builds (a fresh one per test).
 * Contract: `deliver` answers one result per recipient, in the order given, with its address,
 * a status and a non-empty diagnostic, and never throws for a delivery problem; `close()` may
 * be called any number of times; after `close()` a transport still decides every recipient
 * exactly as before (it reopens what it needs on demand, and `close()` again releases it).
 */
function runTransportContract(
  label: string,
  name: string,
  make: () => Promise<Transport>,
  expected: Expected,
): void {
  Deno.test(`transport contract (${label}): one result per recipient, in order`, async () => {
    const t = await make();
    try {
      assertEquals(t.name, name);
      for (const n of [1, 3, 5]) {
        const rcpts = recipients(`n${n}-`, n);
        checkResults(await t.deliver(message(rcpts), rcpts), rcpts, expected);
      }
      assertEquals(await t.deliver(message([]), []), []);
    } finally {
      await t.close();
    }
  });

  Deno.test(`transport contract (${label}): concurrent deliveries get their own results`, async () => {
    const t = await make();
    try {
      const batches = Array.from({ length: 6 }, (_, i) => recipients(`c${i}-`, 1 + (i % 3)));
      const got = await Promise.all(batches.map((b) => t.deliver(message(b), b)));
      got.forEach((res, i) => checkResults(res, batches[i], expected));
    } finally {
      await t.close();
    }
  });

  Deno.test(`transport contract (${label}): a forced delivery answers the same`, async () => {
    const t = await make();
    try {
      const rcpts = recipients("f-", 2);
      checkResults(await t.deliver(message(rcpts), rcpts, { force: true }), rcpts, expected);
    } finally {
      await t.close();
    }
  });

  Deno.test(`transport contract (${label}): close() twice, then deliver decides again`, async () => {
    const t = await make();
    try {
      const before = recipients("b-", 2);
      checkResults(await t.deliver(message(before), before), before, expected);
      await t.close();
      await t.close();
      await t.close({ abort: true });
      const after = recipients("a-", 2);
      checkResults(await t.deliver(message(after), after), after, expected);
    } finally {
      await t.close();
      await t.close();
    }
    const port = expected.peerPort;
    if (port !== undefined) {
      await waitFor(async () => (await openConnections(port)) === 0, {
        timeoutMs: 2000,
        what: `no connection left open to 127.0.0.1:${port}`,
      });
    }
  });

  Deno.test(`transport contract (${label}): close() releases the connections it keeps`, async () => {
    const t = await make();
    const port = expected.peerPort;
    try {
      const rcpts = recipients("k-", 1);
      checkResults(await t.deliver(message(rcpts), rcpts), rcpts, expected);
      if (port !== undefined && expected.reuses) assert((await openConnections(port)) > 0);
    } finally {
      await t.close();
    }
    if (port !== undefined) {
      await waitFor(async () => (await openConnections(port)) === 0, {
        timeoutMs: 2000,
        what: `no connection left open to 127.0.0.1:${port}`,
      });
    }
  });
}

// Started once for the file; the last test stops them.
const accepting = await smtpSink();
const rejecting = await smtpSink({ args: ["-f", "rcpt"] }); // 5xx to every RCPT
const busy = await smtpSink({ args: ["-r", "rcpt"] }); // 4xx to every RCPT
const sinks: SmtpSink[] = [accepting, rejecting, busy];
const closedPort = freePort(); // nothing listens there
const smtp = (port: number): Partial<TransportSettings> => ({
  driver: "smtp",
  hosts: [`127.0.0.1:${port}`],
  tls: "none",
  connect_timeout: 2000,
  command_timeout: 3000,
  data_timeout: 3000,
});

runTransportContract("discard", "drop", () => build("drop", { driver: "discard" }), {
  status: "delivered",
  diagnostic: /^discarded$/,
});

runTransportContract(
  "fail",
  "nowhere",
  () => build("nowhere", { driver: "fail", message: "No mail for dest.test here" }),
  { status: "failed", diagnostic: /^No mail for dest\.test here$/ },
);

runTransportContract("smtp to smtp-sink", "smtp", () => build("smtp", smtp(accepting.port)), {
  status: "delivered",
  diagnostic: /250/,
  replyCode: 250,
  remote: true,
  peerPort: accepting.port,
  reuses: true,
});

runTransportContract(
  "smtp to a sink that rejects RCPT with 5xx",
  "rejected",
  () => build("rejected", smtp(rejecting.port)),
  {
    status: "failed",
    diagnostic: /RCPT TO:<[^>]+>: 500 /,
    replyCode: 500,
    remote: true,
    peerPort: rejecting.port,
    reuses: true,
  },
);

runTransportContract(
  "smtp to a sink that defers RCPT with 4xx",
  "busy",
  () => build("busy", smtp(busy.port)),
  {
    status: "deferred",
    diagnostic: /RCPT TO:<[^>]+>: 450 /,
    replyCode: 450,
    remote: true,
    peerPort: busy.port,
    reuses: true,
  },
);

// A closed port is a connection problem: deferred, never thrown. Each test builds its own
// transport, so host retry memory from one test does not decide the next.
runTransportContract(
  "smtp to a closed port",
  "unreachable",
  () => build("unreachable", smtp(closedPort)),
  {
    status: "deferred",
    diagnostic: /Cannot connect to 127\.0\.0\.1 \[127\.0\.0\.1\]:\d+: Connection refused/,
    remote: true,
    peerPort: closedPort,
  },
);

Deno.test({
  name: "transport contract: the smtp-sinks received the delivered messages",
  // The sinks were started outside any test.
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await Promise.all(sinks.map((s) => s.stop()));
    // smtp-sink counts messages at QUIT: the accepting one got every delivered message
    // (3 + 6 + 1 + 2 + 1 deliveries), the others none.
    assertEquals([accepting.count(), rejecting.count(), busy.count()], [13, 0, 0]);
  },
});
