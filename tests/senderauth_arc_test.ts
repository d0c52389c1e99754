import { assertEquals, assertRejects } from "./helpers/assert.ts";
import { Resolver } from "../lib/dns/mod.ts";
import {
  authenticationResults,
  DkimSignError,
  sealArc,
  verifyArc,
  verifyDkim,
} from "../lib/senderauth/mod.ts";
import { TestDnsServer } from "./helpers/dns_server.ts";
import { keyRecord, makeDkimKey } from "./helpers/dkim_keys.ts";
import { dkimpyArcSign, dkimpyArcVerify } from "./helpers/dkimpy.ts";

const rsa = makeDkimKey("rsa");
const ed = makeDkimKey("ed25519");
const MESSAGE = new TextEncoder().encode(
  "From: Alice <alice@example.test>\r\nTo: list@fwd.test\r\nSubject: hi\r\n" +
    "Message-ID: <3@example.test>\r\n\r\nHello\r\n",
);
const RECORDS = {
  "arc._domainkey.one.test": rsa.record,
  "arc._domainkey.two.test": rsa.record,
};

async function withDns(fn: (resolver: Resolver) => Promise<void>) {
  const dns = await TestDnsServer.start([
    keyRecord("arc._domainkey.one.test", rsa.record),
    keyRecord("arc._domainkey.two.test", rsa.record),
    keyRecord("ed._domainkey.two.test", ed.record),
  ]);
  try {
    await fn(new Resolver({ servers: [dns.address], timeout: 2000, attempts: 1 }));
  } finally {
    dns.close();
  }
}

async function seal(resolver: Resolver, message: Uint8Array, domain: string) {
  const dkim = await verifyDkim(message, { resolver });
  const arc = await verifyArc(dkim, { resolver });
  const authResults = authenticationResults(domain, { dkim, arc });
  return await sealArc(message, {
    domain,
    selector: "arc",
    privateKeyPem: rsa.pem,
    cv: arc.result,
    authResults,
  });
}

Deno.test("sealArc() starts a chain that verifyArc() passes", async () => {
  await withDns(async (resolver) => {
    const sealed = await seal(resolver, MESSAGE, "one.test");
    const arc = await verifyArc(await verifyDkim(sealed, { resolver }), { resolver });
    assertEquals(arc.result, "pass", arc.comment);
    assertEquals(arc.instance, 1);
    const twice = await seal(resolver, sealed, "two.test");
    const arc2 = await verifyArc(await verifyDkim(twice, { resolver }), { resolver });
    assertEquals(arc2.result, "pass", arc2.comment);
    assertEquals(arc2.instance, 2);
  });
});

Deno.test({
  name: "sealArc() chains verify with dkimpy, also after a dkimpy seal",
  fn: async () => {
    await withDns(async (resolver) => {
      const ours = await seal(resolver, MESSAGE, "one.test");
      assertEquals(await dkimpyArcVerify(ours, RECORDS), "pass");
      const changed = new TextDecoder().decode(ours).replace("Hello", "Bye");
      assertEquals(await dkimpyArcVerify(new TextEncoder().encode(changed), RECORDS), "fail");
      const withAr = new TextEncoder().encode(
        "Authentication-Results: one.test; none\r\n" + new TextDecoder().decode(MESSAGE),
      );
      const theirs = await dkimpyArcSign(withAr, {
        domain: "one.test",
        selector: "arc",
        key: rsa.dkimpyKey,
        srvId: "one.test",
      });
      const both = await seal(resolver, theirs, "two.test");
      assertEquals(await dkimpyArcVerify(both, RECORDS), "pass");
    });
  },
});

Deno.test("sealArc() refuses an unusable key", async () => {
  await assertRejects(
    () =>
      sealArc(MESSAGE, {
        domain: "one.test",
        selector: "arc",
        privateKeyPem: "not a key",
        cv: "none",
        authResults: "one.test; none",
      }),
    DkimSignError,
  );
});
