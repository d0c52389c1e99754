import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { Resolver } from "../lib/dns/mod.ts";
import {
  authenticationResults,
  checkDmarc,
  checkSpf,
  type DkimSignatureResult,
  type DmarcCheckOptions,
  signDkim,
  verifyArc,
  verifyDkim,
} from "../lib/senderauth/mod.ts";
import { TestDnsServer, type ZoneRecord } from "./helpers/dns_server.ts";
import { keyRecord, makeDkimKey } from "./helpers/dkim_keys.ts";
import { dkimpyArcSign } from "./helpers/dkimpy.ts";

const txt = (name: string, data: string): ZoneRecord => ({ name, type: "TXT", data });
const a = (name: string, data: string): ZoneRecord => ({ name, type: "A", data });
const rsa = makeDkimKey("rsa");

const ZONE: ZoneRecord[] = [
  txt("_dmarc.example.test", "v=DMARC1; p=reject; sp=quarantine; rua=mailto:d@example.test"),
  a("example.test", "192.0.2.1"),
  a("sub.example.test", "192.0.2.2"),
  txt("example.test", "v=spf1 ip4:192.0.2.0/24 -all"),
  keyRecord("s1._domainkey.example.test", rsa.record),
  keyRecord("arc._domainkey.fwd.test", rsa.record),
  txt("_dmarc.strict.test", "v=DMARC1; p=reject; aspf=s; adkim=s"),
  a("strict.test", "192.0.2.3"),
  txt("_dmarc.relaxed.test", "v=DMARC1; p=none"),
  a("relaxed.test", "192.0.2.4"),
  txt("_dmarc.example.co.uk", "v=DMARC1; p=quarantine"),
  a("mail.example.co.uk", "192.0.2.5"),
  a("norec.test", "192.0.2.6"),
  txt("_dmarc.temp.test", "v=DMARC1; p=reject"),
];

async function withDns(fn: (resolver: Resolver, dns: TestDnsServer) => Promise<void>) {
  const dns = await TestDnsServer.start(structuredClone(ZONE));
  try {
    await fn(new Resolver({ servers: [dns.address], timeout: 2000, attempts: 1 }), dns);
  } finally {
    dns.close();
  }
}

const pass = (domain: string): DkimSignatureResult => ({
  domain,
  selector: "s1",
  algorithm: "rsa-sha256",
  result: "pass",
  aligned: false,
  testing: false,
  info: `dkim=pass header.d=${domain}`,
});

function dmarc(resolver: Resolver, from: string, o: Partial<DmarcCheckOptions> = {}) {
  return checkDmarc({ resolver, headerFrom: [from], ...o });
}

Deno.test("checkDmarc() accepts an aligned SPF or DKIM pass and applies p= otherwise", async () => {
  await withDns(async (resolver) => {
    const spf = await dmarc(resolver, "a@example.test", {
      spf: { result: "pass", domain: "bounce.example.test" },
    });
    assertEquals(spf.status, "accept");
    assertEquals(spf.alignment.spf, "bounce.example.test");
    assertEquals(spf.used_domain, "example.test");
    const dkim = await dmarc(resolver, "a@example.test", { dkim: [pass("example.test")] });
    assertEquals(dkim.status, "accept");
    assertEquals(dkim.alignment.dkim, "example.test");
    const none = await dmarc(resolver, "a@example.test", {
      spf: { result: "pass", domain: "other.test" },
      dkim: [{ ...pass("example.test"), result: "fail" }],
    });
    assertEquals(none.status, "reject");
    assertEquals(none.policy, "reject");
    assertEquals(none.result, "fail");
    assertMatch(none.info, /^dmarc=fail/);
    const spfFail = await dmarc(resolver, "a@example.test", {
      spf: { result: "fail", domain: "example.test" },
    });
    assertEquals(spfFail.status, "reject");
  });
});

Deno.test("checkDmarc() falls back to the organisational domain's record and its sp=", async () => {
  await withDns(async (resolver) => {
    const r = await dmarc(resolver, "a@sub.example.test");
    assertEquals(r.status, "quarantine");
    assertEquals(r.domain, "sub.example.test");
    assertEquals(r.used_domain, "example.test");
    const uk = await dmarc(resolver, "a@mail.example.co.uk", { dkim: [pass("example.co.uk")] });
    assertEquals(uk.status, "accept"); // relaxed alignment by the public suffix list
    const notOrg = await dmarc(resolver, "a@mail.example.co.uk", { dkim: [pass("other.co.uk")] });
    assertEquals(notOrg.status, "quarantine"); // co.uk is a public suffix, not an org domain
  });
});

Deno.test("checkDmarc() honours strict alignment and p=none", async () => {
  await withDns(async (resolver) => {
    const strict = await dmarc(resolver, "a@strict.test", {
      spf: { result: "pass", domain: "bounce.strict.test" },
      dkim: [pass("mail.strict.test")],
    });
    assertEquals(strict.status, "reject");
    const exact = await dmarc(resolver, "a@strict.test", { dkim: [pass("strict.test")] });
    assertEquals(exact.status, "accept");
    const relaxed = await dmarc(resolver, "a@relaxed.test");
    assertEquals(relaxed.status, "none");
    assertEquals(relaxed.policy, "none");
  });
});

Deno.test("checkDmarc() gives norecord, nofrom and temperror", async () => {
  await withDns(async (resolver, dns) => {
    assertEquals((await dmarc(resolver, "a@norec.test")).status, "norecord");
    assertEquals((await checkDmarc({ resolver, headerFrom: [] })).status, "nofrom");
    const two = await checkDmarc({ resolver, headerFrom: ["a@example.test", "b@norec.test"] });
    assertEquals(two.status, "nofrom");
    dns.fault("_dmarc.temp.test", "TXT", "servfail");
    assertEquals((await dmarc(resolver, "a@temp.test")).status, "temperror");
  });
});

const MESSAGE = new TextEncoder().encode(
  "From: Alice <alice@example.test>\r\nTo: bob@example.net\r\nSubject: hi\r\n" +
    "Message-ID: <2@example.test>\r\n\r\nHello\r\n",
);

Deno.test("a signed message passes SPF, DKIM and DMARC into one Authentication-Results", async () => {
  await withDns(async (resolver) => {
    const signed = signDkim(MESSAGE, {
      domain: "example.test",
      selector: "s1",
      privateKeyPem: rsa.pem,
    });
    const spf = await checkSpf({
      ip: "192.0.2.9",
      sender: "alice@example.test",
      helo: "mx.example.test",
      hostname: "relay.local",
      resolver,
    });
    const dkim = await verifyDkim(signed, { resolver });
    const arc = await verifyArc(dkim, { resolver });
    const dmarcResult = await checkDmarc({
      resolver,
      headerFrom: dkim.headerFrom,
      spf,
      dkim: dkim.results,
    });
    assertEquals(dmarcResult.status, "accept");
    assertEquals(arc.result, "none");
    const header = authenticationResults("relay.local", { spf, dkim, dmarc: dmarcResult, arc });
    const lines = header.split("\r\n");
    assertEquals(lines[0], "Authentication-Results: relay.local;");
    assertMatch(lines[1], /^ dkim=pass header\.i=@example\.test /);
    assertMatch(lines[2], /^ spf=pass /);
    assertMatch(lines[3], /^ arc=none/);
    assertMatch(lines[4], /^ dmarc=pass .*header\.from=example\.test/);
    assertEquals(
      authenticationResults("relay.local", {}),
      "Authentication-Results: relay.local; none",
    );
  });
});

Deno.test({
  name: "verifyArc() passes a chain sealed by dkimpy and fails it after the body changed",
  fn: async () => {
    await withDns(async (resolver) => {
      const withAr = new TextEncoder().encode(
        "Authentication-Results: fwd.test; spf=pass smtp.mailfrom=alice@example.test\r\n" +
          new TextDecoder().decode(MESSAGE),
      );
      const sealed = await dkimpyArcSign(withAr, {
        domain: "fwd.test",
        selector: "arc",
        key: rsa.dkimpyKey,
        srvId: "fwd.test",
      });
      const ok = await verifyArc(await verifyDkim(sealed, { resolver }), { resolver });
      assertEquals(ok.result, "pass", ok.comment);
      assertEquals(ok.instance, 1);
      assert(ok.info.startsWith("arc=pass"));
      const text = new TextDecoder().decode(sealed).replace("Hello", "Bye");
      const bad = await verifyArc(
        await verifyDkim(new TextEncoder().encode(text), { resolver }),
        { resolver },
      );
      assertEquals(bad.result, "fail");
    });
  },
});
