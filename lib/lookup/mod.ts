/**
 * Lookup tables (`[lookup.NAME]`): one {@linkcode Lookup} interface, drivers for text files,
 * LMDB, Redis, the relay's KV and DNS, a result cache with counters, and the registry that
 * opens them from configuration. Temporary failures are {@linkcode LookupDeferError}.
 *
 * @module
 */
export {
  type Lookup,
  LookupDeferError,
  LookupError,
  type LookupStats,
  type LookupValue,
} from "./types.ts";
export { CachedLookup, type CacheOptions } from "./cache.ts";
export { FileLookup, type FileLookupMode, type FileLookupOptions, parseLsearch } from "./file.ts";
export { LmdbLookup, type LmdbLookupOptions } from "./lmdb.ts";
export {
  parseRedisServer,
  RedisLookup,
  type RedisLookupOptions,
  type RedisServer,
} from "./redis.ts";
export { RespErrorReply, type RespValue } from "./resp.ts";
export { KvLookup, type KvStore } from "./kv.ts";
export {
  dnsbl,
  dnsblName,
  DnsLookup,
  type DnsLookupOptions,
  type DnsRecordType,
  type DnsResolver,
} from "./dns.ts";
export {
  type LookupDeps,
  LookupRegistry,
  type LookupTableConfig,
  openLookup,
  openLookups,
} from "./registry.ts";
