import type { Lookup, LookupStats, LookupValue } from "./types.ts";

/** How long answers stay in a {@linkcode CachedLookup}. */
export interface CacheOptions {
  /** Milliseconds a found value is kept; 0 turns the cache off. Default 60 s. */
  ttl?: number;
  /** Milliseconds an absent key is remembered (negative caching). Default: `ttl`. */
  negativeTtl?: number;
  /** Entries kept before the oldest are dropped. Default 10,000. */
  maxEntries?: number;
  /** The clock, for tests. */
  now?: () => number;
}

interface Entry<T> {
  value: T;
  expires: number;
}

/**
 * Wraps a driver with a result cache (TTL, negative caching, size bound), one in-flight
 * fetch per key, and hit/miss/error counters. Errors are never cached.
 *
 * @example Usage
 * ```ts
 * const cached = new CachedLookup(driver, { ttl: 30_000, negativeTtl: 5_000 });
 * await cached.get("example.org");
 * cached.stats; // { hits: 0, misses: 1, errors: 0 }
 * ```
 */
export class CachedLookup implements Lookup {
  readonly name: string;
  readonly driver: string;
  /** Counters since start. */
  readonly stats: LookupStats = { hits: 0, misses: 0, errors: 0 };
  readonly #inner: Lookup;
  readonly #ttl: number;
  readonly #negativeTtl: number;
  readonly #max: number;
  readonly #now: () => number;
  readonly #values = new Map<string, Entry<LookupValue>>();
  readonly #lists = new Map<string, Entry<string[] | null>>();
  readonly #inflight = new Map<string, Promise<unknown>>();

  /** Wraps `inner`; see {@linkcode CacheOptions} for the defaults. */
  constructor(inner: Lookup, options: CacheOptions = {}) {
    this.#inner = inner;
    this.name = inner.name;
    this.driver = inner.driver;
    this.#ttl = options.ttl ?? 60_000;
    this.#negativeTtl = options.negativeTtl ?? this.#ttl;
    this.#max = options.maxEntries ?? 10_000;
    this.#now = options.now ?? Date.now;
    if (!inner.members) this.members = undefined;
  }

  /** The wrapped driver. */
  get inner(): Lookup {
    return this.#inner;
  }

  /** Returns the cached value or fetches it from the driver. */
  get(key: string): Promise<LookupValue> {
    return this.#cached(this.#values, "g" + key, () => this.#inner.get(key));
  }

  /**
   * The cached value without waiting: a string or null when cached and fresh (counted as a
   * hit), undefined when `get` would have to ask the driver.
   */
  peek(key: string): LookupValue | undefined {
    const hit = this.#values.get("g" + key);
    if (!hit || hit.expires <= this.#now()) return undefined;
    this.stats.hits++;
    return hit.value;
  }

  /** Returns the cached list or fetches it from the driver. */
  members?(key: string): Promise<string[] | null> {
    return this.#cached(this.#lists, "m" + key, () => this.#inner.members!(key));
  }

  /** Forgets every cached answer (for example after `relay lookup set`). */
  clear(): void {
    this.#values.clear();
    this.#lists.clear();
  }

  /** Closes the driver. */
  close(): void | Promise<void> {
    this.clear();
    return this.#inner.close();
  }

  #cached<T>(map: Map<string, Entry<T>>, id: string, fetch: () => Promise<T>): Promise<T> {
    const hit = map.get(id);
    if (hit && hit.expires > this.#now()) {
      this.stats.hits++;
      return Promise.resolve(hit.value);
    }
    if (hit) map.delete(id);
    const running = this.#inflight.get(id) as Promise<T> | undefined;
    if (running) {
      this.stats.hits++;
      return running;
    }
    this.stats.misses++;
    const p = fetch().then(
      (value) => {
        this.#inflight.delete(id);
        this.#store(map, id, value);
        return value;
      },
      (e) => {
        this.#inflight.delete(id);
        this.stats.errors++;
        throw e;
      },
    );
    this.#inflight.set(id, p);
    return p;
  }

  #store<T>(map: Map<string, Entry<T>>, id: string, value: T): void {
    const ttl = value === null ? this.#negativeTtl : this.#ttl;
    if (ttl <= 0) return;
    if (map.size >= this.#max) map.delete(map.keys().next().value!);
    map.set(id, { value, expires: this.#now() + ttl });
  }
}
