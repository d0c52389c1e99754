import { testEnvelope } from "./helpers/envelope.ts";
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { Resolver } from "../lib/dns/mod.ts";
import type { Envelope, Recipient } from "../lib/envelope/mod.ts";
import {
  HostRetryMemory,
  type OutboundMessage,
  SmtpTransport,
  type SmtpTransportOptions,
} from "../lib/transport/mod.ts";
import { FakePeer, selfSignedCert } from "./helpers/fake_smtp_peer.ts";
import { smtpSink } from "./helpers/postfix.ts";
import { TestDnsServer } from "./helpers/dns_server.ts";

function rcpt(address: string, extra: Partial<Recipient> = {}): Recipient {
  return { address, status: "pending", attempts: 0, nextAttempt: 0, ...extra };
}

function message(body: string, env: Partial<Envelope> = {}): OutboundMessage {
  const bytes = new TextEncoder().encode(body);
  return {
    envelope: testEnvelope({
      id: "01TESTTESTTEST000",
      size: bytes.length,
      chunks: 1,
      ...env,
      recipients: env.recipients ?? [],
    }),
    body: async function* () {
      yield bytes;
    },
  };
}

const BODY = "Subject: hi\r\n\r\nline one\r\n.leading dot\r\n..two dots\r\nend\r\n";

function transport(opts: Partial<SmtpTransportOptions>): SmtpTransport {
  return new SmtpTransport({
    name: "smtp",
    resolver: new Resolver({ servers: ["127.0.0.1:9"], timeout: 200, attempts: 1 }),
    helo: "relay.test",
    timeouts: { connect: 2000, command: 3000, data: 3000 },
    idleTimeout: 0,
    ...opts,
  });
}

Deno.test("smtp transport delivers to Postfix smtp-sink with the body intact", async () => {
  const sink = await smtpSink({ dump: true });
  const t = transport({ hosts: [`127.0.0.1:${sink.port}`] });
  try {
    const res = await t.deliver(message(BODY), [rcpt("a@dest.test"), rcpt("b@dest.test")]);
    assertEquals(res.map((r) => r.status), ["delivered", "delivered"]);
    assertEquals(res[0].remote?.ip, "127.0.0.1");
    assertMatch(res[0].remote?.greeting ?? "", /^220 /);
    assertMatch(res[0].remote?.heloResponse ?? "", /^250 /);
    const [dump] = await sink.messages();
    assert(
      dump.includes("\r\n.leading dot\r\n..two dots\r\nend\r\n") ||
        dump.includes("\n.leading dot\n..two dots\nend\n"),
      dump,
    );
    assert(dump.includes("a@dest.test") && dump.includes("b@dest.test"));
  } finally {
    await t.close();
    await sink.stop();
  }
});

Deno.test("smtp transport: 4xx per recipient defers, 5xx fails (smtp-sink -r/-f rcpt)", async () => {
  const soft = await smtpSink({ args: ["-r", "rcpt"] });
  const hard = await smtpSink({ args: ["-f", "rcpt"] });
  const t1 = transport({ hosts: [`127.0.0.1:${soft.port}`] });
  const t2 = transport({ hosts: [`127.0.0.1:${hard.port}`] });
  try {
    const [d] = await t1.deliver(message(BODY), [rcpt("a@dest.test")]);
    assertEquals(d.status, "deferred");
    assertEquals(d.reply?.code, 450);
    assertMatch(d.diagnostic, /after RCPT TO:<a@dest.test>: 450 4\.3\.0/);
    const [f] = await t2.deliver(message(BODY), [rcpt("a@dest.test")]);
    assertEquals(f.status, "failed");
    assertEquals(f.reply?.code, 500);
  } finally {
    await Promise.all([t1.close(), t2.close()]);
    await Promise.all([soft.stop(), hard.stop()]);
  }
});

Deno.test("smtp transport: 552 at RCPT (too many recipients) defers, as 452", async () => {
  // Scripted: no real server answers 552 to RCPT on demand (RFC 5321 4.5.3.1.10).
  let n = 0;
  const peer = await FakePeer.start({
    onCommand: (l) => l.startsWith("RCPT") && ++n > 1 ? "552 5.5.3 Too many recipients" : undefined,
  });
  const t = transport({ hosts: [`127.0.0.1:${peer.port}`] });
  try {
    const res = await t.deliver(message(BODY), [rcpt("a@dest.test"), rcpt("b@dest.test")]);
    assertEquals(res.map((r) => r.status), ["delivered", "deferred"]);
    assertEquals(res[1].reply?.code, 552);
    assertEquals(peer.messages.map((m) => m.rcpts), [["a@dest.test"]]);
  } finally {
    await t.close();
    await peer.close();
  }
});

Deno.test("smtp transport: 4xx/5xx after DATA and 421 at greeting (smtp-sink)", async () => {
  const softDot = await smtpSink({ args: ["-r", "."] });
  const hardDot = await smtpSink({ args: ["-f", "."] });
  const busy = await smtpSink({ args: ["-Q", "connect"] });
  const ts = [softDot, hardDot, busy].map((s) => transport({ hosts: [`127.0.0.1:${s.port}`] }));
  try {
    const [a] = await ts[0].deliver(message(BODY), [rcpt("a@dest.test")]);
    assertEquals([a.status, a.reply?.code], ["deferred", 450]);
    assertMatch(a.diagnostic, /after end of data/);
    const [b] = await ts[1].deliver(message(BODY), [rcpt("a@dest.test")]);
    assertEquals([b.status, b.reply?.code], ["failed", 500]);
    const [c] = await ts[2].deliver(message(BODY), [rcpt("a@dest.test")]);
    assertEquals(c.status, "deferred");
    assertMatch(c.diagnostic, /greeting: 421/);
  } finally {
    await Promise.all(ts.map((t) => t.close()));
    await Promise.all([softDot.stop(), hardDot.stop(), busy.stop()]);
  }
});

Deno.test("smtp transport: connection refused defers and the host is then left alone", async () => {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = probe.addr.port;
  probe.close();
  const memory = new HostRetryMemory({ initial: 60_000 });
  const t = transport({ hosts: [`127.0.0.1:${port}`], hostRetry: memory });
  try {
    const [a] = await t.deliver(message(BODY), [rcpt("a@dest.test")]);
    assertEquals(a.status, "deferred");
    assertMatch(a.diagnostic, /Cannot connect to 127\.0\.0\.1 \[127\.0\.0\.1\]:\d+/);
    const [b] = await t.deliver(message(BODY), [rcpt("a@dest.test")]);
    assertEquals(b.status, "deferred");
    assertMatch(b.diagnostic, /retry wait/);
  } finally {
    await t.close();
  }
});

Deno.test("smtp transport tries the next MX when the first refuses connections", async () => {
  const peer = await FakePeer.start();
  const probe = Deno.listen({ hostname: "127.0.0.2", port: peer.port }).close();
  void probe;
  const dns = await TestDnsServer.start([
    { name: "dest.test", type: "MX", data: { preference: 10, exchange: "mx1.dest.test" } },
    { name: "dest.test", type: "MX", data: { preference: 20, exchange: "mx2.dest.test" } },
    { name: "mx1.dest.test", type: "A", data: "127.0.0.2" },
    { name: "mx2.dest.test", type: "A", data: "127.0.0.1" },
  ]);
  const t = transport({
    port: peer.port,
    resolver: new Resolver({ servers: [dns.address], timeout: 2000, attempts: 1 }),
  });
  try {
    const [r] = await t.deliver(message(BODY), [rcpt("x@dest.test")]);
    assertEquals(r.status, "delivered");
    assertEquals(r.remote?.host, "mx2.dest.test");
  } finally {
    await t.close();
    await peer.close();
    dns.close();
  }
});

Deno.test("smtp transport: NXDOMAIN and null MX fail, SERVFAIL defers", async () => {
  const dns = await TestDnsServer.start([
    { name: "nullmx.test", type: "MX", data: { preference: 0, exchange: "." } },
  ]);
  dns.fault("broken.test", "MX", "servfail");
  const t = transport({ resolver: new Resolver({ servers: [dns.address], timeout: 2000 }) });
  try {
    const [a] = await t.deliver(message(BODY), [rcpt("x@nowhere.test")]);
    assertEquals(a.status, "failed");
    assertMatch(a.diagnostic, /NXDOMAIN/);
    const [b] = await t.deliver(message(BODY), [rcpt("x@nullmx.test")]);
    assertEquals(b.status, "failed");
    assertMatch(b.diagnostic, /null MX/);
    const [c] = await t.deliver(message(BODY), [rcpt("x@broken.test")]);
    assertEquals(c.status, "deferred");
    assertMatch(c.diagnostic, /SERVFAIL/);
  } finally {
    await t.close();
    dns.close();
  }
});

Deno.test("smtp transport: a peer dropping mid-DATA defers the message", async () => {
  const peer = await FakePeer.start({ dropAfterDataBytes: 10 });
  const t = transport({ hosts: [peer.address] });
  try {
    const [r] = await t.deliver(message(BODY + "x".repeat(5000) + "\r\n"), [rcpt("a@dest.test")]);
    assertEquals(r.status, "deferred");
    assertMatch(r.diagnostic, /Connection|closed|lost/);
    assertEquals(peer.messages.length, 0);
  } finally {
    await t.close();
    await peer.close();
  }
});

Deno.test("smtp transport passes DSN parameters and reuses one connection", async () => {
  const peer = await FakePeer.start();
  const t = transport({ hosts: [peer.address], idleTimeout: 2000 });
  try {
    const m = message(BODY, { dsn: { ret: "HDRS", envid: "id+1" }, bodyType: "8BITMIME" });
    const r = rcpt("a@dest.test", { notify: ["FAILURE", "DELAY"], orcpt: "rfc822;a@dest.test" });
    assertEquals((await t.deliver(m, [r]))[0].status, "delivered");
    assertEquals((await t.deliver(m, [rcpt("b@dest.test")]))[0].status, "delivered");
    assertEquals(peer.sessions, 1);
    assert(
      peer.commands.includes(
        `MAIL FROM:<sender@origin.test> SIZE=${m.envelope.size} BODY=8BITMIME RET=HDRS ENVID=id+2B1`,
      ),
      peer.commands.join("\n"),
    );
    assert(
      peer.commands.includes("RCPT TO:<a@dest.test> NOTIFY=FAILURE,DELAY ORCPT=rfc822;a@dest.test"),
    );
    assertEquals(peer.messages[0].body, BODY);
  } finally {
    await t.close();
    await peer.close();
  }
});

Deno.test("smtp transport refuses what the peer cannot take: SIZE, 8BITMIME, SMTPUTF8", async () => {
  const peer = await FakePeer.start({ extensions: ["SIZE 20"] });
  const t = transport({ hosts: [peer.address] });
  try {
    const [a] = await t.deliver(message(BODY), [rcpt("a@dest.test")]);
    assertEquals(a.status, "failed");
    assertMatch(a.diagnostic, /exceeds the 20 bytes/);
    const small8 = message("Subject: \u00e9\r\n\r\n\u00e9\r\n", { bodyType: "8BITMIME" });
    small8.envelope.size = 1;
    const [b] = await t.deliver(small8, [rcpt("a@dest.test")]);
    assertEquals(b.status, "failed");
    assertMatch(b.diagnostic, /8BITMIME/);
    const seven = message("x\r\n", { bodyType: "8BITMIME", size: 3 });
    assertEquals((await t.deliver(seven, [rcpt("a@dest.test")]))[0].status, "delivered");
    const utf8 = message("x\r\n", { smtputf8: true, size: 3 });
    const [c] = await t.deliver(utf8, [rcpt("a@dest.test")]);
    assertEquals(c.status, "failed");
    assertMatch(c.diagnostic, /SMTPUTF8/);
  } finally {
    await t.close();
    await peer.close();
  }
});

Deno.test("smtp transport: STARTTLS, and a broken handshake per TLS policy", async () => {
  const dir = await Deno.makeTempDir();
  const tls = await selfSignedCert(dir);
  const good = await FakePeer.start({ tls });
  const broken = await FakePeer.start({ brokenTls: true });
  const tGood = transport({ hosts: [good.address], tls: "encrypt" });
  const tOpp = transport({ hosts: [broken.address], tls: "may" });
  const tReq = transport({ hosts: [broken.address], tls: "encrypt" });
  const tOff = transport({ hosts: [good.address], tls: "none" });
  try {
    const [a] = await tGood.deliver(message(BODY), [rcpt("a@dest.test")]);
    assertEquals(a.status, "delivered");
    assertMatch(a.remote?.tls ?? "", /^TLSv1\.[23]:/);
    assertEquals(good.messages[0].tls, true);
    const [b] = await tOpp.deliver(message(BODY), [rcpt("a@dest.test")]);
    assertEquals(b.status, "delivered");
    assertEquals(broken.sessions, 2); // the failed handshake, then clear text
    const [c] = await tReq.deliver(message(BODY), [rcpt("a@dest.test")]);
    assertEquals(c.status, "deferred");
    assertMatch(c.diagnostic, /TLS/);
    const [d] = await tOff.deliver(message(BODY), [rcpt("a@dest.test")]);
    assertEquals(d.status, "delivered");
    assertEquals(good.messages[1].tls, false);
  } finally {
    await Promise.all([tGood.close(), tOpp.close(), tReq.close(), tOff.close()]);
    await Promise.all([good.close(), broken.close()]);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("smtp transport authenticates to a smarthost with PLAIN or LOGIN", async () => {
  const auth = { username: "relay", password: "s3cret" };
  const plain = await FakePeer.start({ auth });
  const login = await FakePeer.start({
    auth,
    authMechanisms: "LOGIN",
    extensions: ["PIPELINING"],
  });
  const t1 = transport({ hosts: [plain.address], auth });
  const t2 = transport({ hosts: [plain.address], auth: { username: "relay", password: "bad" } });
  const t3 = transport({ hosts: [login.address], auth });
  try {
    assertEquals((await t3.deliver(message(BODY), [rcpt("a@x.test")]))[0].status, "delivered");
    assertEquals(login.messages[0].authUser, "relay");
    assert(login.commands.includes("AUTH LOGIN"));
    assertEquals((await t1.deliver(message(BODY), [rcpt("a@x.test")]))[0].status, "delivered");
    assertEquals(plain.messages[0].authUser, "relay");
    const [bad] = await t2.deliver(message(BODY), [rcpt("a@x.test")]);
    assertEquals(bad.status, "deferred");
    assertMatch(bad.diagnostic, /Authentication failed: 535/);
  } finally {
    await Promise.all([t1.close(), t2.close(), t3.close()]);
    await Promise.all([plain.close(), login.close()]);
  }
});

Deno.test("smtp transport delivers over IPv6 to an MX with only an AAAA record", async () => {
  const peer = await FakePeer.start({ hostname: "::1" });
  const dns = await TestDnsServer.start([
    { name: "v6.test", type: "MX", data: { preference: 10, exchange: "mx.v6.test" } },
    { name: "mx.v6.test", type: "AAAA", data: "::1" },
  ]);
  const t = transport({
    port: peer.port,
    resolver: new Resolver({ servers: [dns.address], timeout: 2000, attempts: 1 }),
  });
  try {
    const [r] = await t.deliver(message(BODY), [rcpt("x@v6.test")]);
    assertEquals([r.status, r.remote?.ip], ["delivered", "::1"]);
  } finally {
    await t.close();
    await peer.close();
    dns.close();
  }
});

Deno.test("smtp transport with real smtp-sink: no 8BITMIME (-8) and 550 after DATA (-A)", async () => {
  const no8 = await smtpSink({ args: ["-8"] });
  const abort = await smtpSink({ args: ["-A", "0"] });
  const t1 = transport({ hosts: [`127.0.0.1:${no8.port}`] });
  const t2 = transport({ hosts: [`127.0.0.1:${abort.port}`] });
  try {
    const eight = message("Subject: caf\u00e9\r\n\r\ncaf\u00e9\r\n", { bodyType: "8BITMIME" });
    const [a] = await t1.deliver(eight, [rcpt("a@dest.test")]);
    assertEquals(a.status, "failed");
    assertMatch(a.diagnostic, /8BITMIME/);
    const [b] = await t1.deliver(message(BODY, { bodyType: "8BITMIME" }), [rcpt("a@dest.test")]);
    assertEquals(b.status, "delivered"); // 7-bit content goes without BODY=8BITMIME
    const [c] = await t2.deliver(message(BODY), [rcpt("a@dest.test")]);
    assertEquals([c.status, c.reply?.code], ["failed", 550]);
  } finally {
    await Promise.all([t1.close(), t2.close()]);
    await Promise.all([no8.stop(), abort.stop()]);
  }
});
