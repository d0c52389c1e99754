// One behaviour suite run against every `RateLimiter` (KV and Redis), like the lookup suite.
// The redis-server is real, started once for the file and stopped by its last test.
import { LookupDeferError, RedisLookup } from "../lib/lookup/mod.ts";
import { KvRateLimiter, parseRate, type RateLimiter, RedisRateLimiter } from "../lib/policy/mod.ts";
import { Keyspace } from "../lib/spool/mod.ts";
import { assertEquals, assertRejects } from "./helpers/assert.ts";
import { startRedis } from "./helpers/redis.ts";

interface Made {
  limiter: RateLimiter;
  /** Makes the store unavailable (and `cleanup` brings it back if shared). */
  down: () => Promise<void>;
  cleanup: () => Promise<void> | void;
}

const MINUTE = 60_000;
/** A window boundary for a one-minute window (all tests start at one). */
const T0 = 1_000_000 * MINUTE;

/** Runs the shared suite; `make` builds a limiter reading the clock `now`. */
function runRateLimitContract(store: string, make: (now: () => number) => Promise<Made>): void {
  Deno.test(`rate limiter contract (${store}): false up to the limit, true over it`, async () => {
    const { limiter, cleanup } = await make(() => T0);
    try {
      const rate = parseRate("3/1m");
      const hits = [];
      for (let i = 0; i < 6; i++) hits.push(await limiter.hit("192.0.2.1", rate));
      assertEquals(hits, [false, false, false, true, true, true]);
      const one = parseRate("1/1h");
      assertEquals([await limiter.hit("one", one), await limiter.hit("one", one)], [false, true]);
    } finally {
      await cleanup();
    }
  });

  Deno.test(`rate limiter contract (${store}): keys and windows count apart`, async () => {
    const { limiter, cleanup } = await make(() => T0);
    try {
      const rate = parseRate("2/1m");
      for (let i = 0; i < 3; i++) await limiter.hit("192.0.2.1", rate);
      assertEquals(await limiter.hit("192.0.2.1", rate), true);
      // Another key, a key that is a prefix of it, odd characters: their own counters.
      for (const k of ["192.0.2.2", "192.0.2.", "192.0.2.1:", "ключ\r\n*", ""]) {
        assertEquals(await limiter.hit(k, rate), false, JSON.stringify(k));
      }
      // The same key with another window (`ratelimit(ip, "2/1h")` next to "2/1m").
      assertEquals(await limiter.hit("192.0.2.1", parseRate("2/1h")), false);
    } finally {
      await cleanup();
    }
  });

  Deno.test(`rate limiter contract (${store}): the window slides with the clock`, async () => {
    let now = T0;
    const { limiter, cleanup } = await make(() => now);
    try {
      const rate = parseRate("3/1m");
      for (let i = 0; i < 5; i++) await limiter.hit("k", rate);
      // At the next window's start the previous one still counts fully: 5 + 1 > 3.
      now = T0 + MINUTE;
      assertEquals(await limiter.hit("k", rate), true);
      // Half way through, half of it: 5 * 0.5 + 2 > 3.
      now = T0 + MINUTE + 30_000;
      assertEquals(await limiter.hit("k", rate), true);
      // Half way through the next, half of that window's 2 hits: 2 * 0.5 + 1 <= 3.
      now = T0 + 2 * MINUTE + 30_000;
      assertEquals(await limiter.hit("k", rate), false);
      // Two quiet windows later nothing is left.
      now = T0 + 5 * MINUTE;
      const hits = [];
      for (let i = 0; i < 4; i++) hits.push(await limiter.hit("k", rate));
      assertEquals(hits, [false, false, false, true]);
    } finally {
      await cleanup();
    }
  });

  Deno.test(`rate limiter contract (${store}): concurrent hits are counted exactly`, async () => {
    const { limiter, cleanup } = await make(() => T0);
    try {
      const rate = parseRate("10/1m");
      const got = await Promise.all(Array.from({ length: 50 }, () => limiter.hit("burst", rate)));
      assertEquals(got.filter((over) => over).length, 40);
      // Every hit was recorded: the next one is the 51st.
      assertEquals(await limiter.hit("burst", parseRate("50/1m")), true);
      assertEquals(await limiter.hit("other", rate), false);
    } finally {
      await cleanup();
    }
  });

  Deno.test(`rate limiter contract (${store}): a store that is down defers`, async () => {
    const { limiter, down, cleanup } = await make(() => T0);
    try {
      const rate = parseRate("3/1m");
      assertEquals(await limiter.hit("k", rate), false);
      await down();
      await assertRejects(() => limiter.hit("k", rate), LookupDeferError, "k");
    } finally {
      await cleanup();
    }
  });
}

runRateLimitContract("kv", async (now) => {
  const kv = await Deno.openKv(":memory:");
  let open = true;
  const close = () => {
    if (open) kv.close();
    open = false;
  };
  return {
    limiter: new KvRateLimiter(new Keyspace(kv, "ratelimit"), now),
    down: () => Promise.resolve(close()),
    cleanup: close,
  };
});

// Started once for the file; each test starts from an empty database.
const redis = await startRedis();

runRateLimitContract("redis", async (now) => {
  await redis.start(); // a previous test may have stopped it
  await redis.cli("FLUSHALL");
  const lookup = new RedisLookup({ name: "rl", servers: [redis.server()], retryDelay: 0 });
  return {
    limiter: new RedisRateLimiter(lookup, now),
    down: () => redis.stop(),
    cleanup: async () => {
      await lookup.close();
      await redis.start();
    },
  };
});

Deno.test({
  name: "rate limiter contract: stop the shared redis-server",
  // It was started outside any test.
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await redis.stop();
  },
});
