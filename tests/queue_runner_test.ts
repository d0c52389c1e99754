import { testEnvelope } from "./helpers/envelope.ts";
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { Resolver } from "../lib/dns/mod.ts";
import {
  activeRunner,
  QueueRunner,
  type QueueRunnerOptions,
  requestFlush,
  requestRemove,
  RetrySchedule,
} from "../lib/queue/mod.ts";
import { Router } from "../lib/router/mod.ts";
import { DEFAULT_TRANSPORT } from "../lib/router/mod.ts";
import { Spool } from "../lib/spool/mod.ts";
import { type Envelope, newMessageId, type Recipient } from "../lib/envelope/mod.ts";
import { FakePeer } from "./helpers/fake_smtp_peer.ts";
import { waitFor } from "./helpers/wait.ts";
import { smtpSink } from "./helpers/postfix.ts";

const BODY = "From: a@origin.test\r\nSubject: test\r\n\r\nHello\r\n.dot line\r\n";

async function enqueue(
  spool: Spool,
  rcpts: (string | Partial<Recipient> & { address: string })[],
  env: Partial<Envelope> = {},
): Promise<string> {
  const id = newMessageId();
  await spool.store(testEnvelope({ ...env, id, recipients: rcpts }), [
    new TextEncoder().encode(BODY),
  ]);
  return id;
}

interface Setup {
  spool: Spool;
  runner: QueueRunner;
  router: Router;
  lines: string[];
  events: string[];
}

async function setup(
  smarthost: string,
  extra: Partial<QueueRunnerOptions> = {},
): Promise<Setup> {
  const spool = await Spool.open(":memory:");
  const router = Router.build({
    routes: [{ domains: ["*"], transport: "smart" }],
    transports: {
      smart: {
        ...DEFAULT_TRANSPORT,
        hosts: [smarthost],
        idle_timeout: 0,
        connect_timeout: 2000,
        command_timeout: 3000,
        data_timeout: 3000,
      },
    },
    resolver: new Resolver({ servers: ["127.0.0.1:9"], timeout: 100, attempts: 1 }),
    helo: "relay.test",
  });
  const lines: string[] = [];
  const log = { info: (t: string) => lines.push(t), warn: (t: string) => lines.push(t) };
  const events: string[] = [];
  const runner = new QueueRunner({
    spool,
    router,
    hostname: "relay.test",
    log,
    onEvent: (e) => events.push(e.kind),
    ...extra,
  });
  return { spool, runner, router, lines, events };
}

async function teardown(s: Setup): Promise<void> {
  await s.runner.stop();
  await s.router.close();
  s.spool.close();
}

Deno.test("queue delivers to smtp-sink, logs => and removes the message", async () => {
  const sink = await smtpSink({ dump: true });
  const s = await setup(`127.0.0.1:${sink.port}`);
  try {
    const id = await enqueue(s.spool, ["a@dest.test", "b@dest.test"]);
    const sum = await s.runner.runOnce();
    assertEquals([sum.delivered, sum.failed, sum.deferred], [2, 0, 0]);
    assertEquals(await s.spool.get(id), null);
    assert(
      s.lines.some((l) => l.startsWith(`${id} => a@dest.test T=smart H=127.0.0.1`)),
      s.lines.join("\n"),
    );
    assert(s.lines.includes(`${id} Completed`));
    assertEquals((await sink.messages()).length, 1);
  } finally {
    await teardown(s);
    await sink.stop();
  }
});

Deno.test("queue: a 5xx recipient bounces to the sender, the bounce is delivered too", async () => {
  const peer = await FakePeer.start({
    onCommand: (l) =>
      l.startsWith("RCPT TO:<bad@") ? "550 5.1.1 <bad@dest.test>: No such user" : undefined,
  });
  const s = await setup(peer.address);
  try {
    const id = await enqueue(s.spool, ["good@dest.test", "bad@dest.test"]);
    const first = await s.runner.runOnce();
    assertEquals(s.events, ["delivered", "failed", "bounce", "completed"]);
    assertEquals([first.delivered, first.failed, first.bounces], [1, 1, 1]);
    assertEquals(await s.spool.get(id), null);
    assert(s.lines.some((l) => l.startsWith(`${id} ** bad@dest.test`)));
    const second = await s.runner.runOnce(); // the bounce itself
    assertEquals(second.delivered, 1);
    const bounce = peer.messages.find((m) => m.from === "")!;
    assertEquals(bounce.rcpts, ["sender@origin.test"]);
    assertMatch(bounce.body, /Content-Type: multipart\/report; report-type=delivery-status/);
    assertMatch(bounce.body, /Diagnostic-Code: smtp; 550 5\.1\.1 <bad@dest\.test>: No such user/);
    assertMatch(bounce.body, /Remote-MTA: X-ip; \[127\.0\.0\.1\]:\d+/);
    assertMatch(bounce.body, /X-Remote-MTA-smtp-greeting: X-str; 220 fake\.test ESMTP/);
    assertMatch(bounce.body, /X-Remote-MTA-helo-response: X-str; 250 fake\.test Hello/);
    assert(bounce.body.includes("\r\n\r\nHello\r\n.dot line\r\n"));
  } finally {
    await teardown(s);
    await peer.close();
  }
});

Deno.test("queue: 4xx defers by the retry rules; flush forces a new attempt", async () => {
  let refuse = true;
  const peer = await FakePeer.start({
    onCommand: (l) => l.startsWith("RCPT") && refuse ? "451 4.3.0 Try later" : undefined,
  });
  const s = await setup(peer.address, {
    retry: new RetrySchedule([{ domains: ["*"], rules: ["F,1h,10m"] }]),
  });
  try {
    const id = await enqueue(s.spool, ["a@dest.test"]);
    const sum = await s.runner.runOnce();
    assertEquals(sum.deferred, 1);
    const env = (await s.spool.get(id))!;
    const r = env.recipients[0];
    assertEquals([r.status, r.attempts], ["deferred", 1]);
    assert(Math.abs(r.nextAttempt - (env.received + 10 * 60_000)) < 1000);
    assertMatch(r.lastError!, /451 4\.3\.0 Try later/);
    assert(s.lines.some((l) => l.startsWith(`${id} == a@dest.test`)));
    assertEquals((await s.runner.runOnce()).messages, 0); // not due yet
    refuse = false;
    assertEquals((await s.runner.flush(id)).delivered, 1);
    assertEquals(await s.spool.get(id), null);
  } finally {
    await teardown(s);
    await peer.close();
  }
});

Deno.test("queue: past the last retry cutoff a deferral becomes a bounce", async () => {
  const peer = await FakePeer.start({
    onCommand: (l) => l.startsWith("RCPT TO:<a@") ? "451 4.3.0 Try later" : undefined,
  });
  const s = await setup(peer.address, { now: () => Date.now() + 5 * 86_400_000 });
  try {
    const id = await enqueue(s.spool, ["a@dest.test"]);
    const sum = await s.runner.runOnce();
    assertEquals([sum.failed, sum.bounces], [1, 1]);
    assertEquals(await s.spool.get(id), null);
    assert(s.lines.some((l) => l.includes("** a@dest.test") && l.includes("Retry time")));
  } finally {
    await teardown(s);
    await peer.close();
  }
});

Deno.test("queue: no bounce for the null sender or NOTIFY=NEVER, but the message is done", async () => {
  const peer = await FakePeer.start({
    onCommand: (l) => l.startsWith("RCPT") ? "550 5.1.1 No" : undefined,
  });
  const s = await setup(peer.address);
  try {
    const a = await enqueue(s.spool, ["x@dest.test"], { sender: "" });
    const b = await enqueue(s.spool, [{ address: "y@dest.test", notify: ["NEVER"] }]);
    const sum = await s.runner.runOnce();
    assertEquals([sum.failed, sum.bounces], [2, 0]);
    assertEquals([await s.spool.get(a), await s.spool.get(b)], [null, null]);
  } finally {
    await teardown(s);
    await peer.close();
  }
});

Deno.test("queue: a delivered recipient is never sent again; a finished message is removed", async () => {
  const peer = await FakePeer.start();
  const s = await setup(peer.address);
  try {
    // As left by a crash after the first recipient's delivery was committed.
    const id = await enqueue(s.spool, [
      { address: "done@dest.test", status: "delivered", attempts: 1 },
      "todo@dest.test",
    ]);
    // As left by a crash after the last state commit but before removal.
    const finished = await enqueue(s.spool, [{ address: "x@dest.test", status: "delivered" }]);
    await s.runner.runOnce();
    assertEquals(peer.messages.map((m) => m.rcpts), [["todo@dest.test"]]);
    assertEquals([await s.spool.get(id), await s.spool.get(finished)], [null, null]);
  } finally {
    await teardown(s);
    await peer.close();
  }
});

Deno.test("queue runner in the background delivers notified messages and stops cleanly", async () => {
  const peer = await FakePeer.start();
  const s = await setup(peer.address, { interval: 60_000 });
  try {
    s.runner.start();
    const id = await enqueue(s.spool, ["a@dest.test"]);
    s.runner.notify(id);
    await waitFor(async () => !(await s.spool.get(id)), { what: "the message delivered" });
    assertEquals(await s.spool.get(id), null);
    assertEquals(peer.messages.length, 1);
  } finally {
    await teardown(s);
    await peer.close();
  }
});

Deno.test("queue: delay warning once after the configured time, and remove with a bounce", async () => {
  const peer = await FakePeer.start({
    onCommand: (l) => l.startsWith("RCPT TO:<slow@") ? "451 4.3.0 Later" : undefined,
  });
  const s = await setup(peer.address, { delayWarning: 1 });
  try {
    const id = await enqueue(s.spool, ["slow@dest.test"], { received: Date.now() - 1000 });
    assertEquals((await s.runner.runOnce()).bounces, 1);
    assertEquals((await s.runner.flush(id)).bounces, 0); // warned once only
    await s.runner.runOnce(); // deliver the warning
    const warning = peer.messages.find((m) => m.from === "")!;
    assertMatch(warning.body, /Action: delayed/);
    assertMatch(warning.body, /Will-Retry-Until: /);
    assert(await s.runner.remove(id, { bounce: true }));
    assertEquals(await s.spool.get(id), null);
    await s.runner.runOnce();
    const bounces = peer.messages.filter((m) => m.from === "");
    assertEquals(bounces.length, 2);
    assertMatch(bounces[1].body, /removed from the queue by the administrator/);
  } finally {
    await teardown(s);
    await peer.close();
  }
});

Deno.test("queue runner in the background retries a deferred message when it is due", async () => {
  let attempts = 0;
  const peer = await FakePeer.start({
    onCommand: (l) => l.startsWith("RCPT") && attempts++ === 0 ? "451 4.3.0 Later" : undefined,
  });
  const s = await setup(peer.address, {
    interval: 60_000,
    retry: new RetrySchedule([{ domains: ["*"], rules: ["F,1h,1s"] }]),
  });
  try {
    const id = await enqueue(s.spool, ["a@dest.test"]);
    s.runner.start();
    await waitFor(async () => !(await s.spool.get(id)), { what: "the message delivered" });
    assertEquals(await s.spool.get(id), null);
    assertEquals(attempts, 2);
    assert(s.lines.some((l) => l.startsWith(`${id} == a@dest.test`)));
    assert(s.lines.some((l) => l.startsWith(`${id} => a@dest.test`)));
  } finally {
    await teardown(s);
    await peer.close();
  }
});

Deno.test("queue runner stop({ timeout }) cuts a hung delivery and keeps it deferred", async () => {
  const peer = await FakePeer.start({ onData: () => "hang" });
  const s = await setup(peer.address);
  try {
    const id = await enqueue(s.spool, ["a@dest.test"]);
    s.runner.start();
    await waitFor(() => peer.commands.includes("DATA"), { what: "DATA at the peer" });
    const t0 = Date.now();
    await s.runner.stop({ timeout: 200 });
    assert(Date.now() - t0 < 2000);
    const env = await s.spool.get(id);
    assertEquals(env?.recipients[0].status, "deferred");
  } finally {
    await teardown(s);
    await peer.close();
  }
});

Deno.test("queue: NOTIFY=SUCCESS gets a 'relayed' DSN only when the peer lacks DSN", async () => {
  const plain = await FakePeer.start({ extensions: ["PIPELINING", "8BITMIME"] });
  const dsn = await FakePeer.start();
  const s1 = await setup(plain.address);
  const s2 = await setup(dsn.address);
  try {
    const notify = [{ address: "a@dest.test", notify: ["SUCCESS", "FAILURE"] }];
    await enqueue(s1.spool, notify);
    assertEquals((await s1.runner.runOnce()).bounces, 1);
    await s1.runner.runOnce();
    const notice = plain.messages.find((m) => m.from === "")!;
    assertMatch(notice.body, /Action: relayed/);
    assertMatch(notice.body, /Status: 2\.0\.0/);
    assertMatch(notice.body, /Content-Type: text\/rfc822-headers/);
    await enqueue(s2.spool, notify);
    assertEquals((await s2.runner.runOnce()).bounces, 0);
    assert(dsn.commands.some((c) => c.endsWith("NOTIFY=SUCCESS,FAILURE")));
  } finally {
    await Promise.all([teardown(s1), teardown(s2)]);
    await Promise.all([plain.close(), dsn.close()]);
  }
});

Deno.test("a running runner holds the lease and serves flush requests from the CLI", async () => {
  let refuse = true;
  const peer = await FakePeer.start({
    onCommand: (l) => l.startsWith("RCPT") && refuse ? "451 4.3.0 Later" : undefined,
  });
  const s = await setup(peer.address);
  try {
    const id = await enqueue(s.spool, ["a@dest.test"]);
    await s.runner.runOnce(); // deferred for 15 minutes
    assertEquals(await activeRunner(s.spool), null);
    s.runner.start();
    await waitFor(() => activeRunner(s.spool), { what: "the runner's lease" });
    assertEquals((await activeRunner(s.spool))?.pid, Deno.pid);
    refuse = false;
    await requestFlush(s.spool, id); // what `relay queue flush ID` does while serve runs
    await waitFor(async () => !(await s.spool.get(id)), { what: "the message delivered" });
    assertEquals(await s.spool.get(id), null);
    const other = await enqueue(s.spool, [{
      address: "b@dest.test",
      nextAttempt: Date.now() + 1e9,
    }]);
    await requestRemove(s.spool, other, true); // `relay queue remove ID --bounce`
    await waitFor(async () => !(await s.spool.get(other)), { what: "the message removed" });
    assertEquals(await s.spool.get(other), null);
    assert(s.lines.some((l) => l.startsWith(`${other} removed by the administrator (bounced)`)));
    await s.runner.stop();
    assertEquals(await activeRunner(s.spool), null);
  } finally {
    await teardown(s);
    await peer.close();
  }
});
