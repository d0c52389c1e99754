import { Resolver } from "../dns/mod.ts";
import {
  type RouteLookups,
  Router,
  type RouteRule,
  type TransportSettings,
} from "../router/mod.ts";
import type { Spool } from "../spool/mod.ts";
import { HostRetryMemory } from "../transport/mod.ts";
import type { QueueLog } from "./log_lines.ts";
import { type RetryPolicy, RetrySchedule } from "./retry_rules.ts";
import { QueueRunner } from "./runner.ts";
import type { DeliveryEvent } from "./types.ts";

/** The delivery sections of the parsed config (lib/config/schema_delivery.ts), durations in ms. */
export interface DeliverySettings {
  /** `[dns]`. */
  dns: {
    servers: string[];
    timeout: number;
    attempts: number;
    cache: boolean;
    family: "both" | "ipv4" | "ipv6";
    prefer_ipv6: boolean;
  };
  /** `[[route]]` in order. */
  route: RouteRule[];
  /** `[transport.NAME]` by name. */
  transport: Record<string, TransportSettings>;
  /** `[[retry]]` in order. */
  retry: RetryPolicy[];
  /** `[queue]`. */
  queue: {
    interval: number;
    concurrency: number;
    max_per_domain: number;
    delay_warning: number;
    host_retry: number;
    host_retry_max: number;
  };
}

/** What {@linkcode createQueueRunner} needs besides the settings. */
export interface QueueDeps {
  /** The open spool. */
  spool: Spool;
  /** Our host name: EHLO and bounces (empty: the system's host name). */
  hostname: string;
  /** The main log. */
  log?: QueueLog;
  /** The relay's resolver, shared with the SMTP side (one DNS cache); built from `[dns]` if absent. */
  resolver?: Resolver;
  /** Lookup tables for routes with `lookup` (lib/lookup's LookupRegistry). */
  lookups?: RouteLookups;
  /** Called for every delivery outcome (event hooks). */
  onEvent?: (event: DeliveryEvent) => unknown;
}

/**
 * Builds the resolver, router, transports, retry rules and queue runner from the config.
 * The runner's `stop()` also closes the transports' connections. Call `start()` to run it in
 * the background, or `runOnce()` / `flush(id)` for a single pass.
 *
 * @throws {RouterConfigError} when a route names an unknown transport
 * @throws {RetryRuleError} when a retry rule does not parse
 */
export function createQueueRunner(settings: DeliverySettings, deps: QueueDeps): QueueRunner {
  const hostname = deps.hostname || Deno.hostname();
  const d = settings.dns;
  const resolver = deps.resolver ?? new Resolver({
    servers: d.servers,
    timeout: d.timeout,
    attempts: d.attempts,
    cache: d.cache,
  });
  const q = settings.queue;
  const router = Router.build({
    routes: settings.route,
    transports: settings.transport,
    resolver,
    helo: hostname,
    hostRetry: new HostRetryMemory({ initial: q.host_retry, max: q.host_retry_max }),
    family: d.family,
    preferIPv6: d.prefer_ipv6,
    lookups: deps.lookups,
    warn: (m) => deps.log?.warn(m),
  });
  return new QueueRunner({
    spool: deps.spool,
    router,
    retry: new RetrySchedule(settings.retry),
    hostname,
    concurrency: q.concurrency,
    maxPerDomain: q.max_per_domain,
    interval: q.interval,
    delayWarning: q.delay_warning,
    log: deps.log,
    closeRouter: true,
    onEvent: deps.onEvent,
  });
}
