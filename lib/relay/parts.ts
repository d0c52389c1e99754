import { type Config, configErrorAt } from "../config/mod.ts";
import { checkDnssec, Resolver } from "../dns/mod.ts";
import { LookupError } from "../lookup/mod.ts";
import { openPolicy, type Policy, PolicyConfigError, relayResolver } from "../policy/mod.ts";
import {
  createQueueRunner,
  type DeliveryEvent,
  type QueueLog,
  type QueueRunner,
  RetryRuleError,
} from "../queue/mod.ts";
import { RouterConfigError } from "../router/mod.ts";
import type { Spool } from "../spool/mod.ts";
import { spfFunction } from "../server/mod.ts";

/** The resolver of the `[dns]` section (servers, limits, which servers' AD bit counts). */
export function resolverFor(config: Config): Resolver {
  return new Resolver({ ...config.dns, dnssecTrusted: config.dns.dnssec_trusted });
}

/**
 * When a transport uses DANE, checks that the resolver validates DNSSEC (AD on
 * `[dns] dnssec_probe`). Returns a warning to show, or null when all is well or DANE is unused.
 */
export async function daneSelfTest(config: Config, resolver: Resolver): Promise<string | null> {
  const dane = Object.entries(config.transport).filter(([, t]) =>
    t.driver === "smtp" && (t.tls === "dane" || t.tls === "dane-only")
  ).map(([name]) => name);
  if (dane.length === 0) return null;
  const probe = config.dns.dnssec_probe;
  const who = `DANE (transport ${dane.join(", ")})`;
  if (!probe) {
    return `${who}: [dns] dnssec_probe is not set, so the resolver's DNSSEC validation was ` +
      `not checked; without a validating resolver every host is DNSSEC-insecure`;
  }
  const problem = await checkDnssec(resolver, probe);
  return problem ? `${who}: ${problem}` : null;
}

/**
 * Opens the lookup tables and compiles the ACLs. Problems become configuration errors that
 * name the file, line and key, as schema errors do.
 */
export async function buildPolicy(
  config: Config,
  spool: Spool,
  resolver: Resolver,
  file?: string,
): Promise<Policy> {
  let policy: Policy | undefined;
  try {
    policy = await openPolicy(config, {
      kv: spool.keyspace("lookup"),
      counters: spool.keyspace("ratelimit"),
      resolver: relayResolver(resolver),
      spf: spfFunction(resolver, config.server.hostname),
    });
    const proxyTable = config.proxy.trusted_lookup;
    if (proxyTable && !policy.lookups.get(proxyTable)) {
      throw await configErrorAt(
        file,
        ["proxy", "trusted_lookup"],
        `no [lookup.${proxyTable}] table`,
      );
    }
    return policy;
  } catch (e) {
    await policy?.close();
    if (e instanceof PolicyConfigError) {
      throw await configErrorAt(file, ["acl", e.stage, e.index, ...e.key.split(".")], e.message);
    }
    if (e instanceof LookupError) throw await configErrorAt(file, ["lookup"], e.message);
    throw e;
  }
}

/** What {@linkcode buildRunner} needs besides the config and spool. */
export interface RunnerParts {
  log?: QueueLog;
  policy?: Policy;
  file?: string;
  resolver?: Resolver;
  onEvent?: (event: DeliveryEvent) => void;
}

/**
 * Builds the queue runner (router, transports, retry rules) from the configuration; a route
 * or retry rule that cannot work is a configuration error naming its section.
 */
export async function buildRunner(
  config: Config,
  spool: Spool,
  deps: RunnerParts = {},
): Promise<QueueRunner> {
  try {
    return createQueueRunner(config, {
      spool,
      hostname: config.server.hostname,
      log: deps.log,
      lookups: deps.policy?.lookups,
      resolver: deps.resolver ?? resolverFor(config),
      onEvent: deps.onEvent,
    });
  } catch (e) {
    if (e instanceof RouterConfigError) throw await configErrorAt(deps.file, ["route"], e.message);
    if (e instanceof RetryRuleError) throw await configErrorAt(deps.file, ["retry"], e.message);
    throw e;
  }
}
