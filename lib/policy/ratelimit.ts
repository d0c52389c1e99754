import { LookupDeferError, type RedisLookup } from "../lookup/mod.ts";
import type { Keyspace } from "../spool/mod.ts";

/** A rate such as `100/1h`: at most `limit` events per `window` milliseconds. */
export interface Rate {
  limit: number;
  window: number;
}

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Parses `COUNT/PERIOD` with PERIOD like `30s`, `5m`, `1h`, `d` (one day).
 *
 * @throws {RangeError} when the text is not a rate
 * @example Usage
 * ```ts
 * parseRate("100/1h"); // { limit: 100, window: 3600000 }
 * ```
 */
export function parseRate(text: string): Rate {
  const m = /^\s*(\d+)\s*\/\s*(\d*)\s*([smhd])\s*$/.exec(text);
  const n = m ? Number(m[2] || "1") : 0;
  if (!m || n === 0) {
    throw new RangeError(`"${text}" is not a rate (examples: 100/1h, 10/30s, 500/d)`);
  }
  return { limit: Number(m[1]), window: n * UNITS[m[3]] };
}

/**
 * Counts one event for `key` and tells whether its rate is over the limit. Temporary
 * storage failures throw {@linkcode LookupDeferError}.
 */
export interface RateLimiter {
  /** Records the event; true when the rate, this event included, exceeds the limit. */
  hit(key: string, rate: Rate): Promise<boolean>;
}

// Sliding window estimate from two fixed windows: the previous window's count weighted by
// how much of it still overlaps the sliding window, plus the current window's count.
function estimate(prev: number, cur: number, rate: Rate, now: number): number {
  const elapsed = (now % rate.window) / rate.window;
  return prev * (1 - elapsed) + cur;
}

/** Rate counters in the spool's `ratelimit` keyspace (`[window, key, bucket]`, expiring). */
export class KvRateLimiter implements RateLimiter {
  readonly #kv: Keyspace;
  readonly #now: () => number;
  /** Hits in progress per counter: this process updates one counter at a time. */
  readonly #queues = new Map<string, Promise<unknown>>();
  /** Uses the spool's `ratelimit` keyspace; `now` is for tests. */
  constructor(kv: Keyspace, now: () => number = Date.now) {
    this.#kv = kv;
    this.#now = now;
  }

  /**
   * Counts the event and compares the sliding-window estimate with the limit. Hits on one
   * counter are taken in turn inside the process (a burst from one client would otherwise
   * race itself out of the optimistic retries); the versionstamp check still guards against
   * other processes on the same spool.
   */
  hit(key: string, rate: Rate): Promise<boolean> {
    const q = `${rate.window}\0${key}`;
    const before = this.#queues.get(q) ?? Promise.resolve();
    const run = before.then(() => this.#hit(key, rate), () => this.#hit(key, rate));
    const tail = run.catch(() => {});
    this.#queues.set(q, tail);
    tail.then(() => {
      if (this.#queues.get(q) === tail) this.#queues.delete(q);
    });
    return run;
  }

  async #hit(key: string, rate: Rate): Promise<boolean> {
    const now = this.#now();
    const bucket = Math.floor(now / rate.window);
    const cur = [rate.window, key, bucket];
    const prev = [rate.window, key, bucket - 1];
    try {
      // One read and one conditional write per event; a concurrent writer makes us retry.
      for (let attempt = 0; attempt < 8; attempt++) {
        const [p, c] = await this.#kv.getMany<[number, number]>([prev, cur]);
        const count = (c.value ?? 0) + 1;
        const res = await this.#kv.atomic().check(c).set(this.#kv.key(...cur), count, {
          expireIn: 2 * rate.window,
        }).commit();
        if (res.ok) return estimate(p.value ?? 0, count, rate, now) > rate.limit;
      }
      throw new Error("too many concurrent updates");
    } catch (e) {
      throw new LookupDeferError(`Rate counter ${key}: KV failed: ${(e as Error).message}`, {
        cause: e,
      });
    }
  }
}

/** Rate counters in Redis (`INCR` + `PEXPIRE`), shared by every relay using the server. */
export class RedisRateLimiter implements RateLimiter {
  readonly #redis: RedisLookup;
  readonly #now: () => number;
  /** Uses a redis lookup table's servers; `now` is for tests. */
  constructor(redis: RedisLookup, now: () => number = Date.now) {
    this.#redis = redis;
    this.#now = now;
  }

  /** Counts the event and compares the sliding-window estimate with the limit. */
  async hit(key: string, rate: Rate): Promise<boolean> {
    const now = this.#now();
    const bucket = Math.floor(now / rate.window);
    const base = `ratelimit:${rate.window}:${key}:`;
    const cur = await this.#redis.call(["INCR", base + bucket]);
    if (typeof cur !== "number") {
      throw new LookupDeferError(`Rate counter ${key}: Redis answered ${JSON.stringify(cur)}`);
    }
    if (cur === 1) await this.#redis.call(["PEXPIRE", base + bucket, String(2 * rate.window)]);
    const prev = await this.#redis.call(["GET", base + (bucket - 1)]);
    return estimate(Number(typeof prev === "string" ? prev : 0), cur, rate, now) > rate.limit;
  }
}
