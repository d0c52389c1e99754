import {
  type DnsResolver,
  type LookupDeps,
  LookupError,
  type LookupRegistry,
  type LookupTableConfig,
  openLookups,
  RedisLookup,
} from "../lookup/mod.ts";
import type { RuleConfig } from "./compile.ts";
import { PolicyEngine } from "./engine.ts";
import type { SpfFunction } from "./functions.ts";
import type { Keyspace } from "../spool/mod.ts";
import { KvRateLimiter, type RateLimiter, RedisRateLimiter } from "./ratelimit.ts";
import type { PolicyContext, Stage } from "./types.ts";

/** The parts of the configuration the policy uses (`Config` fits once it has them). */
export interface PolicySettings {
  server: {
    hostname: string;
    local_domains: string[];
    relay_domains: string[];
    trusted_networks: string[];
  };
  /** `[lookup.NAME]` tables (lookupsSchema output). */
  lookup?: Record<string, LookupTableConfig>;
  /** `[[acl.STAGE]]` rules (aclSchema output). */
  acl?: Partial<Record<Stage, readonly RuleConfig[] | undefined>>;
  /** `[srs]`: its domain is accepted like the local domains. */
  srs?: { domain: string };
  /** `[policy]` (policySchema output). */
  policy?: { ratelimit_lookup?: string; max_lookup_rounds?: number };
  /** `[spf]` and `[dmarc]`: what rules reading a check that ended in temperror do. */
  spf?: { on_temperror?: "defer" | "continue" };
  dmarc?: { on_temperror?: "defer" | "continue" };
}

/** What {@linkcode openPolicy} returns: the tables, the engine and the relay's context part. */
export interface Policy {
  lookups: LookupRegistry;
  engine: PolicyEngine;
  /** Put into every context: `makeContext({ relay: policy.relay, ... })`. */
  relay: PolicyContext["relay"];
  /** Closes the tables (not the KV, which belongs to the spool). */
  close(): Promise<void>;
}

/**
 * Opens the lookup tables, picks the rate counter store and compiles the ACLs: every
 * configuration problem surfaces here, at start-up.
 *
 * @throws {LookupError} when a table cannot be opened or `ratelimit_lookup` is not redis
 * @throws {PolicyConfigError} naming the rule whose condition does not compile
 * @example Usage
 * ```ts
 * const policy = await openPolicy(config, { kv: spool.keyspace("lookup"), counters: spool.keyspace("ratelimit") });
 * const d = await policy.engine.evaluateStage("rcpt", makeContext({ relay: policy.relay }));
 * ```
 */
export async function openPolicy(
  settings: PolicySettings,
  deps: LookupDeps & { resolver?: DnsResolver; spf?: SpfFunction; counters?: Keyspace } = {},
): Promise<Policy> {
  const lookups = await openLookups(settings.lookup ?? {}, deps);
  try {
    const engine = PolicyEngine.create({
      acl: settings.acl,
      lookups,
      resolver: deps.resolver,
      spf: deps.spf,
      ratelimiter: rateLimiter(lookups, settings.policy?.ratelimit_lookup ?? "", deps.counters),
      maxLookupRounds: settings.policy?.max_lookup_rounds,
      onTemperror: { spf: settings.spf?.on_temperror, dmarc: settings.dmarc?.on_temperror },
    });
    const s = settings.server;
    return {
      lookups,
      engine,
      relay: {
        hostname: s.hostname,
        // Bounces to SRS addresses are mail for us too (they are reversed after RCPT).
        domains: [
          ...s.local_domains,
          ...s.relay_domains,
          ...(settings.srs?.domain ? [settings.srs.domain] : []),
        ],
        trusted_networks: [...s.trusted_networks],
      },
      close: () => lookups.close(),
    };
  } catch (e) {
    await lookups.close();
    throw e;
  }
}

function rateLimiter(
  lookups: LookupRegistry,
  name: string,
  kv: Keyspace | undefined,
): RateLimiter | undefined {
  if (!name) return kv ? new KvRateLimiter(kv) : undefined;
  const inner = lookups.get(name)?.inner;
  if (!(inner instanceof RedisLookup)) {
    throw new LookupError(`policy.ratelimit_lookup: ${name} is not a redis lookup table`);
  }
  return new RedisRateLimiter(inner);
}
