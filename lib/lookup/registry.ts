import { CachedLookup } from "./cache.ts";
import { DnsLookup, type DnsRecordType, type DnsResolver } from "./dns.ts";
import { FileLookup, type FileLookupMode } from "./file.ts";
import { KvLookup, type KvStore } from "./kv.ts";
import { LmdbLookup } from "./lmdb.ts";
import { RedisLookup } from "./redis.ts";
import { type Lookup, LookupError, type LookupStats } from "./types.ts";

interface CacheConfig {
  cache_ttl?: number;
  negative_ttl?: number;
  cache_size?: number;
}

/**
 * One `[lookup.NAME]` table as the config schema outputs it (durations in milliseconds).
 * Matches `lookupTableSchema` in lib/config/schema_policy.ts.
 */
export type LookupTableConfig =
  & CacheConfig
  & (
    | { driver: "file"; path: string; mode?: FileLookupMode; check_interval?: number }
    | {
      driver: "lmdb";
      path: string;
      database?: string;
      library?: string;
      check_interval?: number;
    }
    | {
      driver: "redis";
      servers: string[];
      command?: string[];
      key_prefix?: string;
      timeout?: number;
      retry_delay?: number;
    }
    | { driver: "kv" }
    | { driver: "dns"; type?: DnsRecordType; zone?: string; reverse_ip?: boolean }
  );

/** What drivers need from the running relay. */
export interface LookupDeps {
  /** The spool's `lookup` keyspace, for `kv` tables. */
  kv?: KvStore;
  /** The resolver for `dns` tables and `dnsbl()`. */
  resolver?: DnsResolver;
}

/** The configured tables by name, each wrapped in its cache. */
export class LookupRegistry {
  readonly #tables = new Map<string, CachedLookup>();

  /** Adds a table (already opened); replaces one of the same name. */
  add(lookup: Lookup, cache: CacheConfig = {}): CachedLookup {
    const cached = new CachedLookup(lookup, {
      ttl: cache.cache_ttl,
      negativeTtl: cache.negative_ttl,
      maxEntries: cache.cache_size,
    });
    this.#tables.set(lookup.name, cached);
    return cached;
  }

  /** The table, or undefined. */
  get(name: string): CachedLookup | undefined {
    return this.#tables.get(name);
  }

  /**
   * The table.
   *
   * @throws {LookupError} naming the unknown table
   */
  require(name: string): CachedLookup {
    const t = this.#tables.get(name);
    if (!t) throw new LookupError(`No lookup table named ${name}`);
    return t;
  }

  /** Table names, in configuration order. */
  names(): string[] {
    return [...this.#tables.keys()];
  }

  /** Counters per table, for metrics (`relay_lookup_total{table,result}`). */
  stats(): Record<string, LookupStats & { driver: string }> {
    const out: Record<string, LookupStats & { driver: string }> = {};
    for (const [name, t] of this.#tables) out[name] = { driver: t.driver, ...t.stats };
    return out;
  }

  /** Closes every table. */
  async close(): Promise<void> {
    for (const t of this.#tables.values()) await t.close();
    this.#tables.clear();
  }
}

/**
 * Opens one driver from its configuration (no cache).
 *
 * @throws {LookupError} when a file or library is missing or the table cannot work
 */
export async function openLookup(
  name: string,
  config: LookupTableConfig,
  deps: LookupDeps = {},
): Promise<Lookup> {
  switch (config.driver) {
    case "file":
      return await FileLookup.open({
        name,
        path: config.path,
        mode: config.mode,
        checkInterval: config.check_interval,
      });
    case "lmdb":
      return LmdbLookup.open({
        name,
        path: config.path,
        database: config.database || undefined,
        library: config.library || undefined,
        checkInterval: config.check_interval,
      });
    case "redis":
      return new RedisLookup({
        name,
        servers: config.servers,
        command: config.command,
        keyPrefix: config.key_prefix,
        timeout: config.timeout,
        retryDelay: config.retry_delay,
      });
    case "kv":
      if (!deps.kv) throw new LookupError(`Lookup ${name}: the kv driver needs the relay's KV`);
      return new KvLookup(name, deps.kv);
    case "dns":
      if (!deps.resolver) {
        throw new LookupError(`Lookup ${name}: the dns driver needs the relay's resolver`);
      }
      return new DnsLookup({
        name,
        type: config.type,
        zone: config.zone || undefined,
        reverseIP: config.reverse_ip,
        resolver: deps.resolver,
      });
  }
}

/**
 * Opens every `[lookup.NAME]` table, each behind its cache. On failure the tables opened so
 * far are closed and the error names the table.
 *
 * @throws {LookupError} when a table cannot be opened
 * @example Usage
 * ```ts
 * const registry = await openLookups(config.lookup, { kv: spool.keyspace("lookup") });
 * await registry.require("relay_domains").get("example.org");
 * ```
 */
export async function openLookups(
  tables: Record<string, LookupTableConfig>,
  deps: LookupDeps = {},
): Promise<LookupRegistry> {
  const registry = new LookupRegistry();
  try {
    for (const [name, config] of Object.entries(tables)) {
      registry.add(await openLookup(name, config, deps), config);
    }
  } catch (e) {
    await registry.close();
    throw e;
  }
  return registry;
}
