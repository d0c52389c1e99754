import { assert, assertEquals, assertMatch, assertThrows } from "./helpers/assert.ts";
import { Resolver } from "../lib/dns/mod.ts";
import { DkimSignError, signDkim, verifyDkim } from "../lib/senderauth/mod.ts";
import { TestDnsServer } from "./helpers/dns_server.ts";
import { type DkimTestKey, keyRecord, makeDkimKey } from "./helpers/dkim_keys.ts";
import { dkimpySign, dkimpyVerify } from "./helpers/dkimpy.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

const MESSAGE = enc(
  "From: Alice <alice@example.test>\r\n" +
    "To: bob@example.net\r\n" +
    "Subject: Hello  there\r\n" +
    "Date: Mon, 23 Nov 2026 12:00:00 +0000\r\n" +
    "Message-ID: <1@example.test>\r\n" +
    "\r\n" +
    "Hello Bob,  \r\n" +
    "\r\n" +
    "a line\twith tabs\r\n" +
    "\r\n\r\n",
);

const rsa = makeDkimKey("rsa");
const ed = makeDkimKey("ed25519");

async function withKeys(
  fn: (resolver: Resolver, dns: TestDnsServer) => Promise<void>,
): Promise<void> {
  const dns = await TestDnsServer.start([
    keyRecord("rsa._domainkey.example.test", rsa.record),
    keyRecord("ed._domainkey.example.test", ed.record),
    keyRecord("other._domainkey.other.test", rsa.record),
  ]);
  try {
    await fn(new Resolver({ servers: [dns.address], timeout: 2000, attempts: 1 }), dns);
  } finally {
    dns.close();
  }
}

const records = (key: DkimTestKey, name: string) => ({ [name]: key.record });

Deno.test({
  name: "verifyDkim() passes messages signed by dkimpy with RSA and Ed25519",
  fn: async () => {
    await withKeys(async (resolver) => {
      for (const c of ["relaxed/relaxed", "simple/simple", "relaxed/simple"]) {
        const byRsa = await dkimpySign(MESSAGE, {
          domain: "example.test",
          selector: "rsa",
          key: rsa.dkimpyKey,
          algorithm: "rsa-sha256",
          canonicalization: c,
          headers: ["from", "to", "subject", "date", "message-id"],
        });
        const r = await verifyDkim(byRsa, { resolver });
        assertEquals(r.results.length, 1);
        assertEquals(r.results[0].result, "pass", `rsa ${c}: ${r.results[0].comment}`);
        assertEquals(r.results[0].domain, "example.test");
        assertEquals(r.results[0].selector, "rsa");
        assertEquals(r.results[0].aligned, "example.test");
      }
      const byEd = await dkimpySign(MESSAGE, {
        domain: "example.test",
        selector: "ed",
        key: ed.dkimpyKey,
        algorithm: "ed25519-sha256",
        canonicalization: "relaxed/relaxed",
        headers: ["from", "to", "subject"],
      });
      const r = await verifyDkim(byEd, { resolver });
      assertEquals(r.results[0].result, "pass", r.results[0].comment);
      assertEquals(r.results[0].algorithm, "ed25519-sha256");
      assertEquals(r.headerFrom, ["alice@example.test"]);
      assert(r.header.startsWith("dkim=pass"), r.header);
    });
  },
});

Deno.test({
  name: "verifyDkim() fails a dkimpy signature after the body or a signed header changed",
  fn: async () => {
    await withKeys(async (resolver) => {
      const signed = dec(
        await dkimpySign(MESSAGE, {
          domain: "example.test",
          selector: "rsa",
          key: rsa.dkimpyKey,
          algorithm: "rsa-sha256",
          canonicalization: "relaxed/relaxed",
          headers: ["from", "subject"],
        }),
      );
      const body = await verifyDkim(enc(signed.replace("Hello Bob", "Hello Eve")), { resolver });
      // mailauth reports a body hash mismatch as neutral, a bad header signature as fail
      assertEquals(body.results[0].result, "neutral");
      assertMatch(body.results[0].comment ?? "", /body hash did not verify/);
      const head = await verifyDkim(enc(signed.replace("Subject: Hello", "Subject: Bye")), {
        resolver,
      });
      assertEquals(head.results[0].result, "fail");
    });
  },
});

Deno.test("verifyDkim() reports none for an unsigned message and a missing key as neutral", async () => {
  await withKeys(async (resolver) => {
    const none = await verifyDkim(MESSAGE, { resolver });
    assertEquals(none.results.map((r) => r.result), ["none"]);
    const signed = signDkim(MESSAGE, {
      domain: "example.test",
      selector: "missing",
      privateKeyPem: rsa.pem,
    });
    const r = await verifyDkim(signed, { resolver });
    assertEquals(r.results[0].result, "neutral"); // mailauth's verdict for a missing key
    assertEquals(r.results[0].comment, "no key");
  });
});

Deno.test("verifyDkim() gives temperror when the key lookup fails (SERVFAIL)", async () => {
  await withKeys(async (resolver, dns) => {
    dns.fault("rsa._domainkey.example.test", "TXT", "servfail");
    const signed = signDkim(MESSAGE, {
      domain: "example.test",
      selector: "rsa",
      privateKeyPem: rsa.pem,
    });
    const r = await verifyDkim(signed, { resolver });
    assertEquals(r.results[0].result, "temperror");
  });
});

Deno.test("signDkim() signatures verify with mailauth, for RSA and Ed25519 and every c=", async () => {
  await withKeys(async (resolver) => {
    for (const [key, selector] of [[rsa, "rsa"], [ed, "ed"]] as const) {
      for (
        const c of ["relaxed/relaxed", "simple/simple", "relaxed/simple", "simple/relaxed"] as const
      ) {
        const signed = signDkim(MESSAGE, {
          domain: "example.test",
          selector,
          privateKeyPem: key.pem,
          canonicalization: c,
        });
        const r = await verifyDkim(signed, { resolver });
        assertEquals(r.results[0].result, "pass", `${selector} ${c}: ${r.results[0].comment}`);
      }
    }
  });
});

Deno.test({
  name: "signDkim() signatures verify with dkimpy, for RSA and Ed25519",
  fn: async () => {
    for (const c of ["relaxed/relaxed", "simple/simple"] as const) {
      const byRsa = signDkim(MESSAGE, {
        domain: "example.test",
        selector: "rsa",
        privateKeyPem: rsa.pem,
        canonicalization: c,
      });
      assertEquals(await dkimpyVerify(byRsa, records(rsa, "rsa._domainkey.example.test")), "pass");
      const byEd = signDkim(MESSAGE, {
        domain: "example.test",
        selector: "ed",
        privateKeyPem: ed.pem,
        canonicalization: c,
      });
      assertEquals(await dkimpyVerify(byEd, records(ed, "ed._domainkey.example.test")), "pass");
    }
  },
});

Deno.test("signDkim() over-signs From: a From added later breaks the signature", async () => {
  await withKeys(async (resolver) => {
    const signed = dec(signDkim(MESSAGE, {
      domain: "example.test",
      selector: "rsa",
      privateKeyPem: rsa.pem,
      headers: ["From", "Subject", "X-Absent"],
    }));
    const h = signed.match(/\bh=([^;]+);/)![1].replace(/\s/g, "");
    assertEquals(h, "from:from:subject");
    const forged = signed.replace(/\r\nFrom: /, "\r\nFrom: Mallory <m@evil.test>\r\nFrom: ");
    const r = await verifyDkim(enc(forged), { resolver });
    assertEquals(r.results[0].result, "fail");
    const recs = records(rsa, "rsa._domainkey.example.test");
    assertEquals(await dkimpyVerify(enc(signed), recs), "pass");
    assertEquals(await dkimpyVerify(enc(forged), recs), "fail");
  });
});

Deno.test("signDkim() normalises bare LF line ends and refuses a wrong key", () => {
  const lf = enc(dec(MESSAGE).replace(/\r\n/g, "\n"));
  const signed = dec(
    signDkim(lf, { domain: "example.test", selector: "rsa", privateKeyPem: rsa.pem }),
  );
  assert(!/[^\r]\n/.test(signed));
  assertThrows(
    () => signDkim(MESSAGE, { domain: "d", selector: "s", privateKeyPem: "nonsense" }),
    DkimSignError,
  );
  assertThrows(
    () =>
      signDkim(MESSAGE, {
        domain: "d",
        selector: "s",
        privateKeyPem: ed.pem,
        algorithm: "rsa-sha256",
      }),
    DkimSignError,
  );
});
