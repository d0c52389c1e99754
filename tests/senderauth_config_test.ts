import { assert, assertEquals } from "./helpers/assert.ts";
import { senderauthConfigSchema } from "../lib/config/schema_senderauth.ts";

Deno.test("sender authentication sections have working defaults", () => {
  const c = senderauthConfigSchema.parse({});
  assertEquals(c.spf, {
    enabled: true,
    guess: "v=spf1 a/24 mx/24 ptr ?all",
    timeout: 20_000,
    on_temperror: "defer",
  });
  assertEquals(c.dmarc.on_temperror, "defer");
  assertEquals(c.dkim.sign, []);
  assertEquals(c.srs.max_age_days, 21);
});

Deno.test("[[dkim.sign]] keys and [srs] secrets are checked", () => {
  const c = senderauthConfigSchema.parse({
    dkim: { sign: [{ domain: "example.org", selector: "s1", key_file: "/etc/relay/s1.pem" }] },
    srs: { domain: "fwd.example.org", secrets: ["new-secret", "old-secret"] },
  });
  assertEquals(c.dkim.sign[0].oversign, ["From"]);
  assertEquals(c.dkim.sign[0].canonicalization, "relaxed/relaxed");
  assert(!senderauthConfigSchema.safeParse({ srs: { domain: "fwd.example.org" } }).success);
  assert(
    !senderauthConfigSchema.safeParse({
      dkim: { sign: [{ domain: "bad domain", selector: "s1", key_file: "k" }] },
    }).success,
  );
  assert(!senderauthConfigSchema.safeParse({ spf: { guess: "a/24" } }).success);
});
