/**
 * DANE (RFC 7672) end to end on loopback: nsd serves a zone signed with ldns, unbound
 * validates it with the zone's DS as trust anchor, and the receiving peers are relay
 * instances (STARTTLS on the OpenSSL layer, certificates from the private PKI; one without
 * STARTTLS). The relay under test resolves MX, addresses and TLSA through unbound.
 */
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { testEnvelope } from "./helpers/envelope.ts";
import { DnssecBed } from "./helpers/dnssec.ts";
import { Pki } from "./helpers/pki.ts";
import { relayCli, spawnRelay, startRelay, type TestRelay } from "./helpers/relay.ts";
import { Resolver } from "../lib/dns/mod.ts";
import type { Recipient } from "../lib/envelope/mod.ts";
import { type OutboundMessage, SmtpTransport } from "../lib/transport/mod.ts";
import type { TlsLevel } from "../lib/transport/mod.ts";

const dir = await Deno.makeTempDir({ prefix: "relay-dane-" });
const pki = await Pki.create(dir);
// The peer's certificate names mx.ta.dane.test only; it is issued by the intermediate.
const leaf = await pki.issue("peer", { dns: ["mx.ta.dane.test"] });

// Peers: `tls` offers STARTTLS with the leaf and its chain; `clear` offers no STARTTLS.
const tlsPeer = await startRelay(
  `[tls]\ncertificate = "${leaf.chain}"\nprivate_key = "${leaf.key}"\n` +
    `[[route]]\ndomains = "*"\ntransport = "local"\n[transport.local]\ndriver = "discard"\n`,
);
const clearPeer = await startRelay(
  `[[route]]\ndomains = "*"\ntransport = "local"\n[transport.local]\ndriver = "discard"\n`,
);
const P = tlsPeer.port;
const C = clearPeer.port;

const ee = await pki.tlsaHash(leaf.cert, 1);
const ee0 = await pki.tlsaHash(leaf.cert, 0);
const ta = await pki.tlsaHash(pki.intermediateFile, 1);
const wrong = "00".repeat(32);

/** A domain `<name>.dane.test` whose MX `mx.<name>.dane.test` is 127.0.0.1, with TLSA lines. */
function host(name: string, port: number, tlsa: string[]): string[] {
  return [
    `${name} IN MX 10 mx.${name}`,
    `mx.${name} IN A 127.0.0.1`,
    ...tlsa.map((t) => `_${port}._tcp.mx.${name} IN TLSA ${t}`),
  ];
}

const bed = await DnssecBed.start([
  {
    name: "dane.test",
    records: [
      ...host("ee", P, [`3 1 1 ${ee}`]),
      ...host("ee0", P, [`3 0 1 ${ee0}`]),
      ...host("wrong", P, [`3 1 1 ${wrong}`]),
      ...host("bogus", P, [`3 1 1 ${ee}`]),
      ...host("pkix", P, [`0 1 1 ${ta}`, `1 1 1 ${ee}`]),
      ...host("ta", P, [`2 1 1 ${ta}`]),
      ...host("tabad", P, [`2 1 1 ${ta}`]),
      ...host("none", P, []),
      ...host("cname", P, []),
      `_${P}._tcp.mx.cname IN CNAME tlsa.target`,
      `tlsa.target IN TLSA 3 1 1 ${ee}`,
      ...host("clear", C, [`3 1 1 ${ee}`]),
    ],
    // A TLSA RRset changed after signing: its RRSIG no longer verifies (bogus: SERVFAIL).
    afterSigning: (text) =>
      text.replace(
        new RegExp(
          `(_${P}\\._tcp\\.mx\\.bogus\\.dane\\.test\\.\\s+\\d+\\s+IN\\s+TLSA\\s+3 1 1 )..`,
        ),
        "$1ff",
      ),
  },
  // Unsigned, no trust anchor: every answer is insecure.
  { name: "plain.test", signed: false, records: host("ins", P, [`3 1 1 ${ee}`]) },
]);

function rcpt(address: string): Recipient {
  return { address, status: "pending", attempts: 0, nextAttempt: 0 };
}

function message(): OutboundMessage {
  const bytes = new TextEncoder().encode("Subject: dane\r\n\r\nbody\r\n");
  return {
    envelope: testEnvelope({ id: "01TESTDANE0000000", size: bytes.length, recipients: [] }),
    body: async function* () {
      yield bytes;
    },
  };
}

/** Delivers one message to `user@<domain>` by MX on the peer's port at a DANE level. */
async function send(domain: string, tls: TlsLevel, port = P) {
  const t = new SmtpTransport({
    name: "mx",
    resolver: new Resolver({ servers: [bed.resolverAddress], timeout: 2000, attempts: 1 }),
    helo: "relay.test",
    port,
    tls,
    timeouts: { connect: 2000, command: 3000, data: 3000 },
    idleTimeout: 0,
  });
  try {
    const [r] = await t.deliver(message(), [rcpt(`user@${domain}`)]);
    return r;
  } finally {
    await t.close();
  }
}

/** How many messages a peer has received so far. */
function received(peer: TestRelay): number {
  return peer.logs.filter((l) => / <= /.test(l)).length;
}

const t = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name, sanitizeOps: false, sanitizeResources: false, fn });

t("DANE-EE 3 1 1 matching the peer's key delivers, dane=ok usage=3 depth=0", async () => {
  const before = received(tlsPeer);
  for (const level of ["dane", "dane-only"] as const) {
    const r = await send("ee.dane.test", level);
    assertEquals(r.status, "delivered", r.diagnostic);
    assertEquals(r.remote?.dane, "dane=ok usage=3 depth=0");
    assertEquals(r.remote?.tlsaUsage, 1 << 3);
    assertEquals(r.remote?.verified, true);
  }
  assertEquals(received(tlsPeer), before + 2, "the peer logged both arrivals");
  const r0 = await send("ee0.dane.test", "dane");
  assertEquals([r0.status, r0.remote?.dane], ["delivered", "dane=ok usage=3 depth=0"]);
});

t("DANE-EE ignores names: the certificate names another host and still matches", async () => {
  // The leaf names mx.ta.dane.test only; mx.ee.dane.test passes under usage 3.
  const r = await send("ee.dane.test", "dane");
  assertEquals(r.status, "delivered", r.diagnostic);
});

t("a wrong TLSA hash defers with 4.7.5, names record and certificate, no clear text", async () => {
  const before = received(tlsPeer);
  const r = await send("wrong.dane.test", "dane");
  assertEquals(r.status, "deferred");
  assertMatch(r.diagnostic, /^4\.7\.5 DANE authentication of mx\.wrong\.dane\.test/);
  assertMatch(r.diagnostic, /TLSA mx\.wrong\.dane\.test 3 1 1 0{16}…/);
  assertMatch(r.diagnostic, /DNS:mx\.ta\.dane\.test/);
  assertMatch(r.diagnostic, /tls_out_tlsa_usage=8/);
  assertEquals(received(tlsPeer), before, "no message in clear text");
});

t("a bogus TLSA RRset (SERVFAIL from the validator) defers, never 'no TLSA'", async () => {
  const before = received(tlsPeer);
  const r = await send("bogus.dane.test", "dane");
  assertEquals(r.status, "deferred");
  assertMatch(r.diagnostic, /4\.7\.5 TLSA lookup for mx\.bogus\.dane\.test .*SERVFAIL/);
  assertEquals(received(tlsPeer), before);
});

t("insecure zone: dane delivers opportunistically, dane-only defers", async () => {
  const r = await send("ins.plain.test", "dane");
  assertEquals(r.status, "delivered", r.diagnostic);
  assertEquals(r.remote?.dane, "dane=insecure");
  assert(r.remote?.tls, "opportunistic TLS still used");
  assertEquals(r.remote?.verified, undefined);
  const only = await send("ins.plain.test", "dane-only");
  assertEquals(only.status, "deferred");
  assertMatch(only.diagnostic, /^4\.7\.5 DANE required .*not DNSSEC-signed/);
});

t("a secure denial of TLSA: dane delivers with may, dane-only defers", async () => {
  const r = await send("none.dane.test", "dane");
  assertEquals([r.status, r.remote?.dane], ["delivered", "dane=none"]);
  const only = await send("none.dane.test", "dane-only");
  assertEquals(only.status, "deferred");
  assertMatch(only.diagnostic, /no TLSA records/);
});

t("only usage 0/1 records: TLS required without authentication", async () => {
  const r = await send("pkix.dane.test", "dane");
  assertEquals(r.status, "delivered", r.diagnostic);
  assertEquals(r.remote?.dane, "dane=unusable");
  assertEquals(r.remote?.tlsaUsage, 0b11);
  assert(r.remote?.tls);
  assertEquals(r.remote?.verified, undefined);
});

t("DANE-TA 2 1 1 on the intermediate with the right name delivers at depth 1", async () => {
  const r = await send("ta.dane.test", "dane");
  assertEquals(r.status, "delivered", r.diagnostic);
  assertEquals(r.remote?.dane, "dane=ok usage=2 depth=1");
});

t("DANE-TA with a certificate that names neither MX host nor domain defers", async () => {
  const r = await send("tabad.dane.test", "dane");
  assertEquals(r.status, "deferred");
  assertMatch(r.diagnostic, /^4\.7\.5 DANE authentication of mx\.tabad\.dane\.test/);
  assertMatch(r.diagnostic, /2 1 1 [0-9a-f]{16}… \(hostname mismatch\)/);
});

t("a TLSA name that is a CNAME is followed (RFC 7671 7)", async () => {
  const r = await send("cname.dane.test", "dane");
  assertEquals(r.status, "delivered", r.diagnostic);
  assertEquals(r.remote?.dane, "dane=ok usage=3 depth=0");
});

t("a peer without STARTTLS while usable TLSA exists is deferred", async () => {
  const before = received(clearPeer);
  const r = await send("clear.dane.test", "dane", C);
  assertEquals(r.status, "deferred");
  assertMatch(r.diagnostic, /4\.7\.5 .*TLSA records but did not offer STARTTLS/);
  assertEquals(received(clearPeer), before);
});

t("relay serve logs dane=ok and tls_out_tlsa_usage in => and the 4.7.5 text in ==", async () => {
  const d = await Deno.makeTempDir({ dir, prefix: "serve-" });
  const relay = await spawnRelay(
    d,
    `[dns]\nservers = ["${bed.resolverAddress}"]\ntimeout = "2s"\ndnssec_probe = "dane.test"\n` +
      `[[route]]\ndomains = "*"\ntransport = "mx"\n` +
      `[transport.mx]\ndriver = "smtp"\nport = ${P}\ntls = "dane-only"\n`,
  );
  try {
    const swaks = async (to: string) => {
      const r = await new Deno.Command("swaks", {
        args: ["--server", `127.0.0.1:${relay.port}`, "--to", to, "--from", "a@example.com"],
        stdout: "piped",
        stderr: "piped",
      }).output().catch((e) => {
        throw new Error(`swaks is needed (Debian package swaks): ${e}`);
      });
      assertEquals(r.code, 0, new TextDecoder().decode(r.stdout));
    };
    await swaks("user@ee.dane.test");
    await swaks("user@wrong.dane.test");
    const until = Date.now() + 15000;
    const find = (re: RegExp) => relay.lines.find((l) => re.test(l));
    while (!(find(/ => user@ee\.dane\.test /) && find(/ == user@wrong\.dane\.test /))) {
      if (Date.now() > until) throw new Error(`no delivery lines:\n${relay.lines.join("\n")}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    assertMatch(find(/ => user@ee/)!, /dane=ok usage=3 depth=0 tls_out_tlsa_usage=8/);
    assertMatch(find(/ == user@wrong/)!, /defer: 4\.7\.5 DANE authentication .*3 1 1/);
    assert(!relay.lines.some((l) => /dnssec_probe|did not validate/.test(l)), "self-test passed");
    const list = await relayCli(["queue", "list", "--config", relay.configPath]);
    assertMatch(list.stdout + list.stderr, /4\.7\.5 DANE authentication/);
  } finally {
    await relay.stop();
  }
});

t("check-config warns when DANE is configured and the resolver does not validate", async () => {
  const file = `${dir}/nodnssec.toml`;
  await Deno.writeTextFile(
    file,
    `[server]\nhostname = "relay.test"\nspool = "${dir}/cc-spool"\n` +
      // nsd answers authoritatively but never sets AD: not a validating resolver.
      `[dns]\nservers = ["${bed.authAddress}"]\ndnssec_probe = "dane.test"\n` +
      `[[route]]\ndomains = "*"\ntransport = "mx"\n[transport.mx]\ntls = "dane"\n`,
  );
  const r = await relayCli(["check-config", "--config", file]);
  assertEquals(r.code, 0, r.stderr);
  assertMatch(r.stderr, /warning: DANE \(transport mx\): the resolver did not validate dane\.test/);
  const good = file.replace("nodnssec", "dnssec");
  await Deno.writeTextFile(
    good,
    (await Deno.readTextFile(file)).replace(bed.authAddress, bed.resolverAddress),
  );
  const ok = await relayCli(["check-config", "--config", good]);
  assertEquals([ok.code, ok.stderr], [0, ""]);
});

t("DANE test bed shutdown", async () => {
  await bed.close();
  await tlsPeer.close();
  await clearPeer.close();
  await Deno.remove(dir, { recursive: true }).catch(() => {});
});
