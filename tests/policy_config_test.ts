import { Keyspace } from "../lib/spool/mod.ts";
// From TOML text through the exported schemas to a working engine, as the relay loads it.
import { parse } from "smol-toml";
import { z } from "zod";
import { aclSchema, lookupsSchema, policySchema } from "../lib/config/schema_policy.ts";
import { LookupError, LookupRegistry, openLookups } from "../lib/lookup/mod.ts";
import {
  makeContext,
  openPolicy,
  PolicyConfigError,
  PolicyEngine,
  splitAddress,
} from "../lib/policy/mod.ts";
import { assertEquals, assertRejects, assertThrows } from "./helpers/assert.ts";
import { startRedis } from "./helpers/redis.ts";

const TOML = (redisServer: string, dir: string) => `
[lookup.relay_domains]
driver = "file"
path = "${dir}/domains"
cache_ttl = "30s"

[lookup.blocked]
driver = "redis"
servers = ["${redisServer}"]
command = ["SISMEMBER", "blocked_senders"]
timeout = "300ms"
retry_delay = "0s"
negative_ttl = "0s"
cache_ttl = "0s"

[policy]
max_lookup_rounds = 3

[[acl.mail]]
deny = 'in_list("blocked", sender.address)'
message = "550 5.7.1 Sender <{sender.address}> is blocked"

[[acl.rcpt]]
accept = 'authenticated || lookup("relay_domains", rcpt.domain) != null'
add_header = "X-Relay-Domain: {rcpt.domain}"

[[acl.rcpt]]
deny = "true"
message = "5.7.1 Relay access denied"
`;

Deno.test("TOML [lookup.*], [[acl.*]] and [policy] build a working engine", async () => {
  const redis = await startRedis();
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/domains`, "example.org\n");
  const raw = parse(TOML(redis.server(), dir)) as Record<string, unknown>;
  const lookups = await openLookups(lookupsSchema.parse(raw.lookup));
  const acl = aclSchema.parse(raw.acl);
  const policy = policySchema.parse(raw.policy);
  const engine = PolicyEngine.create({ acl, lookups, maxLookupRounds: policy.max_lookup_rounds });
  try {
    await redis.cli("SADD", "blocked_senders", "spam@example.net");
    const mail = (s: string) =>
      engine.evaluateStage("mail", makeContext({ sender: splitAddress(s) }));
    const spam = await mail("spam@example.net");
    assertEquals([spam.verb, spam.code, spam.message], [
      "deny",
      550,
      "Sender <spam@example.net> is blocked",
    ]);
    assertEquals((await mail("ok@example.net")).verb, "accept");
    const rcpt = await engine.evaluateStage(
      "rcpt",
      makeContext({ rcpt: splitAddress("a@example.org") }),
    );
    assertEquals([rcpt.verb, rcpt.headers], ["accept", ["X-Relay-Domain: example.org"]]);
    const other = await engine.evaluateStage(
      "rcpt",
      makeContext({ rcpt: splitAddress("a@example.com") }),
    );
    assertEquals([other.verb, other.code, other.builtin], ["deny", 550, false]);
    // Redis down: the sender check defers, it does not let blocked senders through.
    await redis.stop();
    const down = await mail("spam@example.net");
    assertEquals([down.verb, down.code, down.enhanced], ["defer", 451, "4.3.0"]);
    assertEquals(down.logMessage.includes("no Redis server answered"), true);
    assertEquals(lookups.stats().blocked.errors, 1);
  } finally {
    await lookups.close();
    await redis.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the ACL schema refuses rules without exactly one verb or with bad headers", () => {
  const bad = [
    { rcpt: [{ message: "no verb" }] },
    { rcpt: [{ accept: "true", deny: "true" }] },
    { rcpt: [{ accept: "true", add_header: "no colon" }] },
    { rcpt: [{ accept: "true", add_header: "X-A: b\r\nX-B: c" }] },
    { rcpt: [{ accept: "true", message: "two\nlines" }] },
    { rcpt: [{ accept: "true", unknown: 1 }] },
    { rcpt: [{ accept: "true", set: { "bad name": "1" } }] },
    { nosuchstage: [] },
  ];
  for (const b of bad) assertEquals(aclSchema.safeParse(b).success, false, JSON.stringify(b));
  const ok = aclSchema.parse({
    rcpt: [{ warn: "true", add_header: ["X-A: 1"], set: { m_a: "1" } }],
  });
  assertEquals(ok.rcpt?.[0].add_header, ["X-A: 1"]);
});

Deno.test("a CEL error in the TOML fails start-up naming acl.STAGE[i].VERB", () => {
  const raw = parse(`[[acl.data]]\naccept = "true"\n[[acl.data]]\ndeny = 'message.size >'\n`);
  const acl = aclSchema.parse((raw as Record<string, unknown>).acl);
  assertThrows(
    () => PolicyEngine.create({ acl, lookups: new LookupRegistry() }),
    PolicyConfigError,
    "Cannot compile acl.data[1].deny: syntax error in 'message.size >'",
  );
});

Deno.test("openPolicy wires tables, KV rate counters and the relay context", async () => {
  const kv = await Deno.openKv(":memory:");
  const server = {
    hostname: "mx.example.org",
    local_domains: ["example.org"],
    relay_domains: ["*.relay.test"],
    trusted_networks: ["127.0.0.0/8"],
  };
  const policy = await openPolicy({
    server,
    lookup: { store: { driver: "kv" } },
    acl: { mail: [{ defer: 'ratelimit(client.ip, "1/1h")' }] },
  }, { kv: new Keyspace(kv, "lookup"), counters: new Keyspace(kv, "ratelimit") });
  try {
    assertEquals(policy.relay, {
      hostname: "mx.example.org",
      domains: ["example.org", "*.relay.test"],
      trusted_networks: ["127.0.0.0/8"],
    });
    const ctx = makeContext({ client: { ip: "192.0.2.1" }, relay: policy.relay });
    assertEquals((await policy.engine.evaluateStage("mail", ctx)).verb, "accept");
    assertEquals((await policy.engine.evaluateStage("mail", ctx)).verb, "defer");
    const r = await policy.engine.evaluateStage(
      "rcpt",
      makeContext({ ...ctx, rcpt: splitAddress("a@x.relay.test") }),
    );
    assertEquals([r.verb, r.builtin], ["accept", true]);
  } finally {
    await policy.close();
  }
  await assertRejects(
    () =>
      openPolicy({
        server,
        lookup: { store: { driver: "kv" } },
        policy: { ratelimit_lookup: "store" },
      }, { kv: new Keyspace(kv, "lookup"), counters: new Keyspace(kv, "ratelimit") }),
    LookupError,
    "not a redis lookup table",
  );
  kv.close();
});

Deno.test("the schemas slot into a config schema whose output openPolicy takes as is", async () => {
  // The shape lib/config/schema.ts gets once it adds the three keys.
  const schema = z.strictObject({
    server: z.strictObject({
      hostname: z.string().default("mx.test"),
      local_domains: z.array(z.string()).default(["example.org"]),
      relay_domains: z.array(z.string()).default([]),
      trusted_networks: z.array(z.string()).default(["127.0.0.0/8"]),
    }).prefault({}),
    lookup: lookupsSchema.default({}),
    acl: aclSchema.prefault({}),
    policy: policySchema.prefault({}),
  });
  const config = schema.parse(parse(`[[acl.helo]]\ndeny = 'client.helo == "bad"'\n`));
  const policy = await openPolicy(config);
  try {
    const d = await policy.engine.evaluateStage(
      "helo",
      makeContext({ client: { helo: "bad" }, relay: policy.relay }),
    );
    assertEquals(d.verb, "deny");
    assertEquals(policy.engine.hasRules("rcpt"), false);
  } finally {
    await policy.close();
  }
});
