import { Keyspace } from "../lib/spool/mod.ts";
import { LookupRegistry, RedisLookup } from "../lib/lookup/mod.ts";
import {
  KvRateLimiter,
  makeContext,
  parseRate,
  PolicyEngine,
  RedisRateLimiter,
} from "../lib/policy/mod.ts";
import { assertEquals, assertThrows } from "./helpers/assert.ts";
import { startRedis } from "./helpers/redis.ts";

Deno.test("parseRate reads COUNT/PERIOD", () => {
  assertEquals(parseRate("100/1h"), { limit: 100, window: 3_600_000 });
  assertEquals(parseRate("10 / 30s"), { limit: 10, window: 30_000 });
  assertEquals(parseRate("500/d"), { limit: 500, window: 86_400_000 });
  assertThrows(() => parseRate("100/0h"), RangeError);
  assertThrows(() => parseRate("fast"), RangeError, "is not a rate");
});

// Limits, keys, the sliding window, concurrency and a store that is down: the shared suite in
// ratelimit_contract_test.ts runs them on both limiters.

Deno.test("Redis rate limiter counts across clients and lets counters expire", async () => {
  const redis = await startRedis();
  const a = new RedisLookup({ name: "rl", servers: [redis.server()], retryDelay: 0 });
  const b = new RedisLookup({ name: "rl", servers: [redis.server()] });
  const now = () => 2_000_000 * 60_000 + 10;
  const rate = parseRate("2/1m");
  try {
    assertEquals(await new RedisRateLimiter(a, now).hit("k", rate), false);
    assertEquals(await new RedisRateLimiter(b, now).hit("k", rate), false);
    assertEquals(await new RedisRateLimiter(a, now).hit("k", rate), true);
    const ttl = await a.call(["PTTL", `ratelimit:60000:k:${Math.floor(now() / 60000)}`]);
    assertEquals(typeof ttl === "number" && ttl > 60_000 && ttl <= 120_000, true);
  } finally {
    await a.close();
    await b.close();
    await redis.stop();
  }
});

Deno.test("ratelimit() in a rule: counts once per stage evaluation, denies over the rate", async () => {
  const kv = await Deno.openKv(":memory:");
  const e = PolicyEngine.create({
    lookups: new LookupRegistry(),
    ratelimiter: new KvRateLimiter(new Keyspace(kv, "ratelimit")),
    acl: {
      mail: [
        { warn: 'ratelimit(client.ip, "2/1h")', set: { m_limited: "true" } },
        { defer: 'ratelimit(client.ip, "2/1h")', message: "450 4.7.1 Slow down" },
      ],
    },
  });
  const ctx = makeContext({ client: { ip: "192.0.2.9" } });
  const verbs = [];
  for (let i = 0; i < 3; i++) verbs.push((await e.evaluateStage("mail", ctx)).verb);
  assertEquals(verbs, ["accept", "accept", "defer"]);
  const d = await e.evaluateStage("mail", ctx);
  assertEquals([d.code, d.message, d.vars.m_limited], [450, "Slow down", true]);
  const none = PolicyEngine.create({
    lookups: new LookupRegistry(),
    acl: { mail: [{ deny: 'ratelimit(client.ip, "1/1h")' }] },
  });
  const n = await none.evaluateStage("mail", ctx);
  assertEquals([n.verb, n.code], ["defer", 451]);
  kv.close();
});

Deno.test("ratelimit() is not counted on a placeholder's say-so (whitelisted client)", async () => {
  const kv = await Deno.openKv(":memory:");
  const hits: string[] = [];
  const lookups = new LookupRegistry();
  lookups.add({
    name: "white",
    driver: "memory",
    get: (k) => Promise.resolve(k === "192.0.2.1" ? "yes" : null),
    close() {},
  }, { cache_ttl: 0 });
  const limiter = new KvRateLimiter(new Keyspace(kv, "ratelimit"));
  const e = PolicyEngine.create({
    lookups,
    ratelimiter: { hit: (key, rate) => (hits.push(key), limiter.hit(key, rate)) },
    acl: { mail: [{ defer: '!in_list("white", client.ip) && ratelimit(client.ip, "1/1h")' }] },
  });
  for (let i = 0; i < 3; i++) {
    const d = await e.evaluateStage("mail", makeContext({ client: { ip: "192.0.2.1" } }));
    assertEquals(d.verb, "accept");
  }
  assertEquals(hits, []);
  const other = makeContext({ client: { ip: "192.0.2.2" } });
  assertEquals((await e.evaluateStage("mail", other)).verb, "accept");
  assertEquals((await e.evaluateStage("mail", other)).verb, "defer");
  assertEquals(hits, ["192.0.2.2", "192.0.2.2"]);
  kv.close();
});
