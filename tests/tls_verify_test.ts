/**
 * Outbound TLS security levels against peers presenting certificates from a private PKI:
 * PKIX verify pass and fail, wrong names, partial wildcards, expiry, no clear-text retry,
 * pool separation by policy; and the RFC 6125 name rules as pure functions.
 */
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { testEnvelope } from "./helpers/envelope.ts";
import { FakePeer } from "./helpers/fake_smtp_peer.ts";
import { TestDnsServer } from "./helpers/dns_server.ts";
import { Pki } from "./helpers/pki.ts";
import { Resolver } from "../lib/dns/mod.ts";
import type { Recipient } from "../lib/envelope/mod.ts";
import { dnsIdMatches } from "../lib/tls/mod.ts";
import {
  type OutboundMessage,
  SmtpTransport,
  type SmtpTransportOptions,
} from "../lib/transport/mod.ts";

const dir = await Deno.makeTempDir({ prefix: "relay-tls-verify-" });
const pki = await Pki.create(dir);

function rcpt(address: string): Recipient {
  return { address, status: "pending", attempts: 0, nextAttempt: 0 };
}

function message(): OutboundMessage {
  const bytes = new TextEncoder().encode("Subject: t\r\n\r\nbody\r\n");
  return {
    envelope: testEnvelope({ id: "01TESTTLSVERIFY00", size: bytes.length, recipients: [] }),
    body: async function* () {
      yield bytes;
    },
  };
}

async function withPeer(
  cert: { chain: string; key: string },
  hostName: string,
  opts: Partial<SmtpTransportOptions>,
  fn: (t: SmtpTransport, peer: FakePeer) => Promise<void>,
): Promise<void> {
  const peer = await FakePeer.start({ tls: { cert: cert.chain, key: cert.key } });
  const dns = await TestDnsServer.start([{ name: hostName, type: "A", data: "127.0.0.1" }]);
  const t = new SmtpTransport({
    name: "smtp",
    resolver: new Resolver({ servers: [dns.address], timeout: 2000, attempts: 1 }),
    helo: "relay.test",
    hosts: [`${hostName}:${peer.port}`],
    caFile: pki.rootFile,
    timeouts: { connect: 2000, command: 3000, data: 3000 },
    idleTimeout: 0,
    ...opts,
  });
  try {
    await fn(t, peer);
  } finally {
    await t.close();
    await peer.close();
    dns.close();
  }
}

Deno.test("verify: a chain to the CA file and the smarthost's name delivers", async () => {
  const c = await pki.issue("good", { dns: ["smart.a.test"] });
  await withPeer(c, "smart.a.test", { tls: "verify" }, async (t, peer) => {
    const [r] = await t.deliver(message(), [rcpt("x@dest.test")]);
    assertEquals(r.status, "delivered", r.diagnostic);
    assertEquals(r.remote?.verified, true);
    assertEquals(peer.messages[0].tls, true);
  });
});

Deno.test("verify: a wildcard certificate covers one label", async () => {
  const c = await pki.issue("wild", { dns: ["*.a.test"] });
  await withPeer(c, "mx1.a.test", { tls: "verify" }, async (t) => {
    const [r] = await t.deliver(message(), [rcpt("x@dest.test")]);
    assertEquals(r.status, "delivered", r.diagnostic);
  });
});

for (
  const [name, issue, host, why] of [
    ["an unknown CA", "untrusted", "smart.a.test", /could not be verified/],
    ["a wrong name", "other", "smart.a.test", /does not name smart\.a\.test.*DNS:other\.a\.test/],
    ["a partial wildcard f*.a.test", "partial", "foo.a.test", /does not name foo\.a\.test/],
    ["a CN without DNS SAN that differs", "cnonly", "smart.a.test", /does not name/],
  ] as const
) {
  Deno.test(`verify: ${name} defers with 4.7.5 and is never retried in clear text`, async () => {
    let c;
    if (issue === "untrusted") {
      const other = await Pki.create(await Deno.makeTempDir({ dir }));
      c = await other.issue("u", { dns: ["smart.a.test"] });
    } else if (issue === "other") c = await pki.issue("o", { dns: ["other.a.test"] });
    else if (issue === "partial") c = await pki.issue("p", { dns: ["f*.a.test"] });
    else c = await pki.issue("cn", { cn: "other.a.test" });
    await withPeer(c, host, { tls: "verify" }, async (t, peer) => {
      const [r] = await t.deliver(message(), [rcpt("x@dest.test")]);
      assertEquals(r.status, "deferred");
      assertMatch(r.diagnostic, /4\.7\.5/);
      assertMatch(r.diagnostic, why);
      assertEquals(peer.sessions, 1, "no clear-text retry");
      assertEquals(peer.messages.length, 0);
    });
  });
}

Deno.test("a CN is used only when the certificate has no DNS SAN", async () => {
  const c = await pki.issue("cnok", { cn: "smart.a.test" });
  await withPeer(c, "smart.a.test", { tls: "verify" }, async (t) => {
    const [r] = await t.deliver(message(), [rcpt("x@dest.test")]);
    assertEquals(r.status, "delivered", r.diagnostic);
  });
});

Deno.test("may and encrypt deliver over an unverifiable certificate; AUTH warns once", async () => {
  const other = await Pki.create(await Deno.makeTempDir({ dir }));
  const c = await other.issue("u2", { dns: ["smart.a.test"] });
  const warnings: string[] = [];
  await withPeer(c, "smart.a.test", { tls: "encrypt" }, async (t) => {
    const [r] = await t.deliver(message(), [rcpt("x@dest.test")]);
    assertEquals(r.status, "delivered", r.diagnostic);
    assertEquals(r.remote?.verified, undefined);
  });
  const peerAuth = { username: "u", password: "p" };
  const peer = await FakePeer.start({ tls: { cert: c.chain, key: c.key }, auth: peerAuth });
  const t = new SmtpTransport({
    name: "smart",
    resolver: new Resolver({ servers: ["127.0.0.1:9"], timeout: 200, attempts: 1 }),
    helo: "relay.test",
    hosts: [`127.0.0.1:${peer.port}`],
    tls: "may",
    auth: peerAuth,
    warn: (m) => warnings.push(m),
    timeouts: { connect: 2000, command: 3000, data: 3000 },
    idleTimeout: 0,
  });
  try {
    for (let i = 0; i < 2; i++) {
      const [r] = await t.deliver(message(), [rcpt("x@dest.test")]);
      assertEquals(r.status, "delivered", r.diagnostic);
    }
    assertEquals(warnings.length, 1);
    assertMatch(
      warnings[0],
      /AUTH to 127\.0\.0\.1 over a connection whose certificate was not verified/,
    );
  } finally {
    await t.close();
    await peer.close();
  }
});

Deno.test("RFC 6125 names: exact, one-label wildcard, never partial or bare", () => {
  assert(dnsIdMatches("MX.Example.ORG.", "mx.example.org"));
  assert(dnsIdMatches("*.example.org", "mx.example.org"));
  assert(!dnsIdMatches("*.example.org", "a.mx.example.org"), "one label only");
  assert(!dnsIdMatches("*.example.org", "example.org"));
  assert(!dnsIdMatches("*.org", "example.org"), "at least three labels");
  assert(!dnsIdMatches("f*.example.org", "foo.example.org"), "partial wildcard");
  assert(!dnsIdMatches("*oo.example.org", "foo.example.org"));
  assert(!dnsIdMatches("mx.*.org", "mx.example.org"));
  assert(!dnsIdMatches("bücher.example", "bücher.example"), "U-labels never match");
  assert(dnsIdMatches("xn--bcher-kva.example", "XN--BCHER-KVA.example"));
});

Deno.test("DANE levels are accepted by the configuration", async () => {
  const { parseConfig } = await import("../lib/config/mod.ts");
  for (const level of ["dane", "dane-only"]) {
    const c = parseConfig(`[transport.smtp]\ntls = "${level}"\n`, "t.toml");
    assertEquals(c.transport.smtp.tls, level);
  }
});
