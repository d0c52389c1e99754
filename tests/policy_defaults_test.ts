// The built-in rcpt rules must reproduce the server's relay control: own and relay domains
// from anyone, other domains only from trusted networks or authenticated clients.
import { LookupRegistry } from "../lib/lookup/mod.ts";
import { formatDecision, makeContext, PolicyEngine, splitAddress } from "../lib/policy/mod.ts";
import { assertEquals } from "./helpers/assert.ts";

const relay = {
  hostname: "mx.example.org",
  domains: ["example.org", "*.relay.test"],
  trusted_networks: ["127.0.0.0/8", "::1/128", "10.1.0.0/16"],
};

function ctx(rcpt: string, ip: string, user = "") {
  return makeContext({ client: { ip }, rcpt: splitAddress(rcpt), auth: { user }, relay });
}

Deno.test("built-in rcpt rules: relay control without any ACL", async () => {
  const e = PolicyEngine.create({ lookups: new LookupRegistry() });
  const cases: [string, string, string, string][] = [
    ["a@example.org", "198.51.100.7", "", "accept"],
    ["a@EXAMPLE.ORG", "198.51.100.7", "", "accept"],
    ["a@mx.relay.test", "198.51.100.7", "", "accept"],
    ["a@relay.test", "198.51.100.7", "", "deny"],
    ["a@elsewhere.net", "198.51.100.7", "", "deny"],
    ["a@elsewhere.net", "127.0.0.1", "", "accept"],
    ["a@elsewhere.net", "::1", "", "accept"],
    ["a@elsewhere.net", "::ffff:10.1.2.3", "", "accept"],
    ["a@elsewhere.net", "10.2.0.1", "", "deny"],
    ["a@elsewhere.net", "198.51.100.7", "alice", "accept"],
    ["Postmaster", "198.51.100.7", "", "accept"],
    ["postmaster@elsewhere.net", "198.51.100.7", "", "deny"],
  ];
  for (const [rcpt, ip, user, verb] of cases) {
    const d = await e.evaluateStage("rcpt", ctx(rcpt, ip, user));
    assertEquals(d.verb, verb, `${rcpt} from ${ip} ${user}`);
    assertEquals(d.builtin, true);
    if (verb === "accept") {
      assertEquals([d.code, d.enhanced, d.message], [250, "2.1.5", "Recipient OK"]);
    } else {
      assertEquals([d.code, d.enhanced, d.message], [
        554,
        "5.7.1",
        `<${rcpt}>: Relay access denied`,
      ]);
    }
  }
});

Deno.test("built-in rcpt rules run after configured rules that did not decide", async () => {
  const e = PolicyEngine.create({
    lookups: new LookupRegistry(),
    acl: { rcpt: [{ deny: 'rcpt.local == "blocked"' }, { warn: "true", add_header: ["X-A: 1"] }] },
  });
  const blocked = await e.evaluateStage("rcpt", ctx("blocked@example.org", "127.0.0.1"));
  assertEquals([blocked.verb, blocked.code, blocked.builtin], ["deny", 550, false]);
  const open = await e.evaluateStage("rcpt", ctx("a@elsewhere.net", "198.51.100.7"));
  assertEquals([open.verb, open.code, open.builtin], ["deny", 554, true]);
  const ok = await e.evaluateStage("rcpt", ctx("a@example.org", "198.51.100.7"));
  assertEquals([ok.verb, ok.headers], ["accept", ["X-A: 1"]]);
  assertEquals(ok.trace.map((t) => [t.index, t.result, t.builtin ?? false]), [
    [0, false, false],
    [1, true, false],
    [0, false, true],
    [1, true, true],
  ]);
});

Deno.test("an explicit accept ends the rcpt stage before the built-in rules", async () => {
  const e = PolicyEngine.create({
    lookups: new LookupRegistry(),
    acl: { rcpt: [{ accept: 'rcpt.domain == "partner.test"' }] },
  });
  const d = await e.evaluateStage("rcpt", ctx("a@partner.test", "198.51.100.7"));
  assertEquals([d.verb, d.builtin, d.ruleIndex], ["accept", false, 0]);
});

Deno.test("formatDecision shows each rule, why, and the verdict", async () => {
  const e = PolicyEngine.create({
    lookups: new LookupRegistry(),
    acl: { rcpt: [{ warn: 'rcpt.local == "a"', add_header: ["X-A: 1"], log_message: "a!" }] },
  });
  const d = await e.evaluateStage("rcpt", ctx("a@elsewhere.net", "198.51.100.7"));
  assertEquals(formatDecision("rcpt", d), [
    `acl.rcpt[0] warn 'rcpt.local == "a"' -> true: rcpt.local = "a"`,
    `built-in rcpt[0] accept 'rcpt.address.lowerAscii() == "postmaster"' -> false: rcpt.address = "a@elsewhere.net"`,
    `built-in rcpt[1] accept 'domain_in(rcpt.domain, relay.domains)' -> false: rcpt.domain = "elsewhere.net", relay.domains = ["example.org","*.relay.test"]`,
    `built-in rcpt[2] accept 'authenticated' -> false: authenticated = false`,
    `built-in rcpt[3] accept 'in_cidr(client.ip, relay.trusted_networks)' -> false: client.ip = "198.51.100.7", relay.trusted_networks = ["127.0.0.0/8","::1/128","10.1.0.0/16"]`,
    `built-in rcpt[4] deny 'true' -> true`,
    "=> deny 554 5.7.1 <a@elsewhere.net>: Relay access denied (built-in rcpt[4])",
    "   warning: a!",
  ]);
});
