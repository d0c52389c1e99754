import type { HostRetryMemory } from "../transport/mod.ts";
import {
  DiscardTransport,
  domainOf,
  FailTransport,
  SmtpTransport,
  type Transport,
} from "../transport/mod.ts";
import type { Resolver } from "../dns/mod.ts";
import type { Recipient } from "../envelope/mod.ts";
import { matchDomain } from "./domain_pattern.ts";

/** One routing rule, as `[[route]]` in the config. */
export interface RouteRule {
  /** Domain patterns (see {@linkcode matchDomain}). */
  domains: string[];
  /** A `[lookup.NAME]` table: the rule matches domains that are keys in it. */
  lookup?: string;
  /** The `[transport.NAME]` to use. */
  transport: string;
}

/** The lookup tables routes may name (lib/lookup's LookupRegistry fits). */
export interface RouteLookups {
  get(name: string): { get(key: string): Promise<unknown> } | undefined;
}

/** One transport's settings, as `[transport.NAME]` in the config (durations in ms). */
export interface TransportSettings {
  /** How to deliver: SMTP, accept and drop, or fail with `message`. */
  driver: "smtp" | "discard" | "fail";
  /** Smarthosts as `host:port`; empty: by MX. */
  hosts: string[];
  /** Port for delivery by MX. */
  port: number;
  /** TLS security level (`tls_policy.ts` in lib/transport says what each means). */
  tls: "none" | "may" | "encrypt" | "verify" | "dane" | "dane-only";
  /** Trust anchors for `verify`; empty: the system CA bundle. */
  tls_ca_file: string;
  /** AUTH user name for smarthosts; empty: no AUTH. */
  username: string;
  /** AUTH password. */
  password: string;
  /** TCP connect limit, ms. */
  connect_timeout: number;
  /** Limit per command reply, ms. */
  command_timeout: number;
  /** Limit for the body and the final reply, ms. */
  data_timeout: number;
  /** Connections open at once per host. */
  max_per_host: number;
  /** Keep idle connections this long for reuse, ms (0: never). */
  idle_timeout: number;
  /** Bounce text for `driver = "fail"`. */
  message: string;
}

/** What {@linkcode Router.build} needs. */
export interface RouterOptions {
  /** `[[route]]` rules in order; empty: every recipient by MX through `smtp`. */
  routes: RouteRule[];
  /** `[transport.NAME]` sections. */
  transports: Record<string, TransportSettings>;
  /** Resolver for MX and smarthost addresses. */
  resolver: Resolver;
  /** Our host name for EHLO. */
  helo: string;
  /** Host retry memory shared by all SMTP transports. */
  hostRetry?: HostRetryMemory;
  /** Address family choices for MX hosts. */
  family?: "both" | "ipv4" | "ipv6";
  /** Try IPv6 first. */
  preferIPv6?: boolean;
  /** Tables for routes with `lookup`. */
  lookups?: RouteLookups;
  /** Where transports' warnings go. */
  warn?: (message: string) => void;
}

/** A route or transport name in the config does not resolve. */
export class RouterConfigError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "RouterConfigError";
  }
}

/** A recipient whose route could not be decided now (a lookup failed): try later. */
export interface UnresolvedRecipient {
  recipient: Recipient;
  error: string;
}

/** Recipients of one message that go out together: same transport, same domain for MX. */
export interface DeliveryGroup {
  transport: Transport;
  recipients: Recipient[];
}

/** Default settings of a transport not spelled out in the config. */
export const DEFAULT_TRANSPORT: TransportSettings = {
  driver: "smtp",
  hosts: [],
  port: 25,
  tls: "may",
  tls_ca_file: "",
  username: "",
  password: "",
  connect_timeout: 30_000,
  command_timeout: 300_000,
  data_timeout: 600_000,
  max_per_host: 10,
  idle_timeout: 5000,
  message: "Recipient address rejected by routing rule",
};

/**
 * Routes each recipient to a transport by the first `[[route]]` whose domain pattern
 * matches; with no routes, everything goes by MX through the `smtp` transport.
 */
export class Router {
  #routes: RouteRule[];
  #transports: Map<string, Transport>;
  #byMx = new Set<string>();
  #lookups?: RouteLookups;

  private constructor(
    routes: RouteRule[],
    transports: Map<string, Transport>,
    byMx: Set<string>,
    lookups?: RouteLookups,
  ) {
    this.#routes = routes;
    this.#transports = transports;
    this.#byMx = byMx;
    this.#lookups = lookups;
  }

  /**
   * Builds the router and its transports from the config.
   *
   * @throws {RouterConfigError} when a route names a transport that is not configured
   */
  static build(opts: RouterOptions): Router {
    const settings = { ...opts.transports };
    settings.smtp ??= DEFAULT_TRANSPORT;
    const routes = opts.routes.length > 0 ? opts.routes : [{ domains: ["*"], transport: "smtp" }];
    for (const r of routes) {
      if (r.lookup && !opts.lookups?.get(r.lookup)) {
        throw new RouterConfigError(
          `Route names lookup table "${r.lookup}", which is not configured as [lookup.${r.lookup}]`,
        );
      }
      if (!settings[r.transport]) {
        throw new RouterConfigError(
          `Route for ${
            r.domains.join(", ")
          } names transport "${r.transport}", which is not configured`,
        );
      }
    }
    const transports = new Map<string, Transport>();
    const byMx = new Set<string>();
    for (const [name, s] of Object.entries(settings)) {
      transports.set(name, makeTransport(name, s, opts));
      if (s.driver === "smtp" && s.hosts.length === 0) byMx.add(name);
    }
    return new Router(routes, transports, byMx, opts.lookups);
  }

  /** Builds a router over ready transports (tests, custom setups). */
  static of(routes: RouteRule[], transports: Map<string, Transport>, byMx: string[] = []): Router {
    return new Router(routes, transports, new Set(byMx));
  }

  /**
   * The transport for an address, or null when no route matches (the caller fails it).
   * A rule matches by domain pattern or, with `lookup`, when the domain is a key in the table.
   *
   * @throws {Error} when a lookup fails (the caller defers the recipient)
   */
  async route(address: string): Promise<Transport | null> {
    const domain = domainOf(address);
    for (const r of this.#routes) {
      let hit = r.domains.some((p) => matchDomain(p, domain));
      if (!hit && r.lookup) {
        hit = (await this.#lookups?.get(r.lookup)?.get(domain)) != null;
      }
      if (hit) return this.#transports.get(r.transport) ?? null;
    }
    return null;
  }

  /**
   * Groups recipients for delivery: by transport, and by domain too when the transport goes
   * by MX (each domain has its own MX hosts). Unrouted recipients come back apart.
   */
  async plan(recipients: Recipient[]): Promise<
    { groups: DeliveryGroup[]; unrouted: Recipient[]; unresolved: UnresolvedRecipient[] }
  > {
    const groups = new Map<string, DeliveryGroup>();
    const unrouted: Recipient[] = [];
    const unresolved: UnresolvedRecipient[] = [];
    for (const r of recipients) {
      let t: Transport | null;
      try {
        t = await this.route(r.address);
      } catch (e) {
        unresolved.push({ recipient: r, error: `Routing lookup failed: ${(e as Error).message}` });
        continue;
      }
      if (!t) {
        unrouted.push(r);
        continue;
      }
      const key = this.#byMx.has(t.name) ? `${t.name} ${domainOf(r.address)}` : t.name;
      let g = groups.get(key);
      if (!g) groups.set(key, g = { transport: t, recipients: [] });
      g.recipients.push(r);
    }
    return { groups: [...groups.values()], unrouted, unresolved };
  }

  /** Closes every transport's connections; with `abort`, cuts deliveries in progress. */
  async close(opts: { abort?: boolean } = {}): Promise<void> {
    await Promise.all([...this.#transports.values()].map((t) => t.close(opts)));
  }
}

function makeTransport(name: string, s: TransportSettings, o: RouterOptions): Transport {
  switch (s.driver) {
    case "discard":
      return new DiscardTransport(name);
    case "fail":
      return new FailTransport(name, s.message);
    case "smtp":
      return new SmtpTransport({
        name,
        resolver: o.resolver,
        helo: o.helo,
        hosts: s.hosts,
        port: s.port,
        tls: s.tls,
        caFile: s.tls_ca_file || undefined,
        warn: o.warn,
        auth: s.username ? { username: s.username, password: s.password } : undefined,
        timeouts: { connect: s.connect_timeout, command: s.command_timeout, data: s.data_timeout },
        maxPerHost: s.max_per_host,
        idleTimeout: s.idle_timeout,
        hostRetry: o.hostRetry,
        mx: { family: o.family, preferIPv6: o.preferIPv6 },
      });
  }
}
