import {
  DnsError,
  type MxOptions,
  resolveMxHosts,
  type Resolver,
  secureHostAddresses,
} from "../dns/mod.ts";
import { parseHostPort } from "../net/mod.ts";
import type { Recipient } from "../envelope/mod.ts";
import { SmtpClientError } from "./errors.ts";
import { HostRetryMemory } from "./host_retry.ts";
import { type DanePlan, planDane } from "./dane.ts";
import { ConnectionPool } from "./pool.ts";
import { SmtpConnection, type SmtpTimeouts } from "./smtp_connection.ts";
import type { TlsLevel } from "./tls_policy.ts";
import type {
  DeliverOptions,
  OutboundMessage,
  RecipientResult,
  RemoteInfo,
  Transport,
} from "./types.ts";

/** Settings of an SMTP transport (`[transport.NAME] driver = "smtp"`). */
export interface SmtpTransportOptions {
  /** The transport's name. */
  name: string;
  /** Resolver for MX and host addresses. */
  resolver: Resolver;
  /** Our name in EHLO. */
  helo: string;
  /** Smarthosts as `host:port`; none means delivery by MX. */
  hosts?: string[];
  /** Port for MX delivery (default 25). */
  port?: number;
  /** TLS security level (default `may`). */
  tls?: TlsLevel;
  /** Trust anchors for `verify` (default the system CA bundle). */
  caFile?: string;
  /** Where warnings go (AUTH over an unverified connection), once per host. */
  warn?: (message: string) => void;
  /** AUTH credentials for smarthosts. */
  auth?: { username: string; password: string };
  /** Time limits (defaults: connect 30 s, command 5 min, data 10 min). */
  timeouts?: Partial<SmtpTimeouts>;
  /** Open connections per host (default 10). */
  maxPerHost?: number;
  /** Keep idle connections this many milliseconds for reuse (default 5000, 0 = never). */
  idleTimeout?: number;
  /** Host retry memory, shared between transports. */
  hostRetry?: HostRetryMemory;
  /** Address family choices for MX hosts. */
  mx?: MxOptions;
}

interface Target {
  host: string;
  ip: string;
  port: number;
  /** The host's address records were DNSSEC-validated (RFC 7672 2.2.2). */
  secure: boolean;
  /** The next-hop domain, a DANE-TA reference name with a secure MX (RFC 7672 3.2.2). */
  nextHop?: string;
}

/**
 * Delivers over SMTP to a domain's MX hosts (RFC 5321 5.1) or to smarthosts, trying each host
 * in order until every recipient is decided, then deferring the rest.
 */
export class SmtpTransport implements Transport {
  /** The transport's name. */
  readonly name: string;
  #o: SmtpTransportOptions;
  #timeouts: SmtpTimeouts;
  #pool: ConnectionPool;
  #hostRetry: HostRetryMemory;
  #warned = new Set<string>();

  /** Creates the transport; connections open on demand. */
  constructor(opts: SmtpTransportOptions) {
    this.name = opts.name;
    this.#o = opts;
    this.#timeouts = { connect: 30_000, command: 300_000, data: 600_000, ...opts.timeouts };
    this.#pool = new ConnectionPool({ maxPerHost: opts.maxPerHost, idleTimeout: opts.idleTimeout });
    this.#hostRetry = opts.hostRetry ?? new HostRetryMemory();
  }

  /** Delivers to recipients of one domain (by MX) or of any domain (smarthosts). */
  async deliver(
    message: OutboundMessage,
    recipients: Recipient[],
    opts: DeliverOptions = {},
  ): Promise<RecipientResult[]> {
    if (recipients.length === 0) return [];
    let targets: Target[];
    try {
      targets = await this.#targets(domainOf(recipients[0].address));
    } catch (e) {
      if (!(e instanceof DnsError)) throw e;
      const status = e.temporary ? "deferred" : "failed";
      return recipients.map((r) => ({ address: r.address, status, diagnostic: e.message }));
    }
    const decided = new Map<string, RecipientResult>();
    let pending = recipients;
    const last = new Map<string, RecipientResult>();
    const setLast = (diagnostic: string, remote?: RemoteInfo) => {
      for (const r of pending) {
        last.set(r.address, { address: r.address, status: "deferred", diagnostic, remote });
      }
    };
    setLast("No host to deliver to");
    let allPermanent = true;
    for (const t of targets) {
      if (pending.length === 0) break;
      const key = `${t.ip}:${t.port}`;
      const waiting = opts.force ? null : this.#hostRetry.waiting(key);
      if (waiting) {
        setLast(`${t.host} [${t.ip}]: host in retry wait after: ${waiting}`, {
          host: t.host,
          ip: t.ip,
          port: t.port,
        });
        allPermanent = false;
        continue;
      }
      let outcome;
      try {
        const plan = await this.#plan(t);
        // A pooled connection serves only deliveries with the same requirements and name.
        const tlsa = plan.dane?.records.map((r) =>
          `${r.usage}${r.selector}${r.matchingType}` +
          Array.from(r.data, (b) => b.toString(16).padStart(2, "0")).join("")
        );
        const poolKey = `${key} ${this.#level()} ${plan.tls} ${t.host.toLowerCase()}` +
          (tlsa ? ` ${tlsa.join(",")}` : "");
        outcome = await this.#sendVia(t, plan, poolKey, message, pending);
      } catch (e) {
        if (!(e instanceof SmtpClientError)) throw e;
        setLast(e.message, { host: t.host, ip: t.ip, port: t.port, ...e.remote });
        if (!e.permanent) allPermanent = false;
        if (e.connectionLost && !e.reply) this.#hostRetry.failed(key, e.message);
        continue;
      }
      this.#hostRetry.succeeded(key);
      for (const r of outcome.results) {
        if (outcome.tryElsewhere.has(r.address)) {
          last.set(r.address, r);
          if (!(r.reply && r.reply.code >= 500)) allPermanent = false;
        } else decided.set(r.address, r);
      }
      pending = pending.filter((r) => outcome.tryElsewhere.has(r.address));
    }
    const leftover = allPermanent && targets.length > 0 ? "failed" : "deferred";
    return recipients.map((r) =>
      decided.get(r.address) ?? { ...last.get(r.address)!, status: leftover }
    );
  }

  /** Opens (or reuses) a connection and runs one transaction; retries a stale reused one. */
  async #sendVia(
    t: Target,
    plan: DanePlan,
    key: string,
    message: OutboundMessage,
    rcpts: Recipient[],
  ) {
    for (let attempt = 0;; attempt++) {
      const conn = await this.#pool.acquire(key, () => this.#open(t, plan));
      const reused = conn.transactions > 0;
      const outcome = await conn.send(message, rcpts);
      this.#pool.release(key, conn);
      const stale = reused && !conn.usable && outcome.results.every((r) => !r.reply);
      if (!stale || attempt > 0) return outcome;
    }
  }

  #level(): TlsLevel {
    return this.#o.tls ?? "may";
  }

  /** The level this host gets: the configured one, or what DANE (RFC 7672 2.2) decides. */
  async #plan(t: Target): Promise<DanePlan> {
    const level = this.#level();
    if (level !== "dane" && level !== "dane-only") return { tls: level };
    return await planDane(this.#o.resolver, t, level);
  }

  async #open(t: Target, plan: DanePlan): Promise<SmtpConnection> {
    const level = this.#level();
    // RFC 7672 3.2.2: DANE-TA names are the MX host name and the next-hop domain.
    const referenceNames = plan.dane && t.nextHop && t.nextHop !== t.host.toLowerCase()
      ? [t.host, t.nextHop]
      : [t.host];
    const conn = await SmtpConnection.open({
      host: t.host,
      ip: t.ip,
      port: t.port,
      helo: this.#o.helo,
      tls: plan.tls,
      caFile: this.#o.caFile,
      referenceNames,
      dane: plan.dane,
      tlsaUsage: plan.tlsaUsage,
      daneNote: plan.note,
      auth: this.#o.auth,
      timeouts: this.#timeouts,
    });
    if (this.#o.auth && !conn.remote.verified && !this.#warned.has(t.host)) {
      this.#warned.add(t.host);
      this.#o.warn?.(
        `transport ${this.name}: AUTH to ${t.host} over a connection whose certificate was not ` +
          `verified (tls = "${level}"; set tls = "verify" for smarthosts)`,
      );
    }
    return conn;
  }

  /** The hosts to try in order: smarthosts, an address literal, or the domain's MX. */
  async #targets(domain: string): Promise<Target[]> {
    const r = this.#o.resolver;
    if (this.#o.hosts && this.#o.hosts.length > 0) {
      const out: Target[] = [];
      let lastError: DnsError | undefined;
      for (const h of this.#o.hosts) {
        const { host, port } = parseHostPort(h, 25);
        try {
          const found = await secureHostAddresses(r, host, this.#o.mx);
          for (const ip of found.addresses) out.push({ host, ip, port, secure: found.secure });
        } catch (e) {
          if (!(e instanceof DnsError)) throw e;
          lastError = e;
        }
      }
      if (out.length === 0) {
        // A smarthost that does not resolve is our configuration's problem: defer.
        throw new DnsError("servfail", this.#o.hosts.join(","), "A", {
          message: lastError?.message ?? "No smarthost address",
        });
      }
      return out;
    }
    const port = this.#o.port ?? 25;
    const literal = /^\[(?:IPv6:)?([^\]]+)\]$/i.exec(domain);
    if (literal) return [{ host: literal[1], ip: literal[1], port, secure: false }];
    const mx = await resolveMxHosts(r, domain, this.#o.mx);
    return mx.flatMap((h) =>
      h.addresses.map((ip) => ({
        host: h.name,
        ip,
        port,
        secure: h.secure,
        nextHop: h.mxSecure && !h.implicit ? domain : undefined,
      }))
    );
  }

  /** Closes idle connections; with `abort`, busy ones too. */
  async close(opts: { abort?: boolean } = {}): Promise<void> {
    await this.#pool.close(opts.abort);
  }
}

/** The domain part of an address, lower case. */
export function domainOf(address: string): string {
  const at = address.lastIndexOf("@");
  return at < 0 ? "" : address.slice(at + 1).toLowerCase();
}
