import type { Config, ListenConfig } from "../config/mod.ts";
import type { Logger } from "../log/mod.ts";
import { CidrList, normalizeIP, parseHostPort } from "../net/mod.ts";
import { FreeSpace, type Mutation, type Spool, statvfsAvailable } from "../spool/mod.ts";
import type { Envelope } from "../envelope/mod.ts";
import { connStream, ServerCredentials } from "../tls/mod.ts";
import { AuthFailureLimiter, CredentialStore } from "../auth/mod.ts";
import { reply } from "../smtp/mod.ts";
import { type Peer, Session, type SessionDeps } from "./session.ts";
import { VERBS } from "./verbs.ts";
import { negotiateProxy } from "./proxy_negotiation.ts";
import { reverseLookup } from "./rdns.ts";
import { type SenderAuth, senderAuthFor, spfFunction } from "./sender_auth.ts";
import { openPolicy, type Policy, relayResolver } from "../policy/mod.ts";
import { Resolver } from "../dns/mod.ts";

/** What the server needs from the rest of the relay. */
export interface ServerOptions {
  config: Config;
  spool: Spool;
  log: Logger;
  /** Queue index writes committed with each accepted message. */
  indexMutations?: (envelope: Envelope) => Mutation[];
  /** Called after each message is durably accepted. */
  accepted?: (envelope: Envelope) => void;
  /** The relay's resolver (one DNS cache for every check); built from `[dns]` if absent. */
  resolver?: Resolver;
  /** Lookup tables and ACLs; opened from the config (and closed with the server) if absent. */
  policy?: Policy;
}

/** A bound listener. */
export interface BoundAddress {
  /** The `[[listen]]` entry. */
  listen: ListenConfig;
  hostname: string;
  /** The port actually bound (useful with port 0). */
  port: number;
}

/**
 * The SMTP server: one accept loop per `[[listen]]`, one {@linkcode Session} per connection,
 * connection limits in total and per client IP (the original client's, after PROXY).
 *
 * @example Usage
 * ```ts
 * const server = await SmtpServer.start({ config, spool, log });
 * console.log(server.addresses[0].port);
 * await server.close();
 * ```
 */
export class SmtpServer {
  readonly addresses: BoundAddress[] = [];
  #opts: ServerOptions;
  #listeners: Deno.Listener[] = [];
  #sessions = new Set<Session>();
  #perIp = new Map<string, number>();
  #tls: ServerCredentials | null;
  #proxyTrusted: CidrList;
  #trusted: CidrList;
  #baseDeps: Omit<SessionDeps, "listener">;
  #closing = false;
  #sweeper: ReturnType<typeof setInterval> | undefined;
  #ownPolicy: Policy | null;
  #resolver: Resolver;

  private constructor(
    opts: ServerOptions,
    tls: ServerCredentials | null,
    credentials: CredentialStore | null,
    policy: Policy,
    ownPolicy: boolean,
    senderAuth: SenderAuth,
    resolver: Resolver,
  ) {
    this.#ownPolicy = ownPolicy ? policy : null;
    this.#resolver = resolver;
    const c = opts.config;
    this.#opts = opts;
    this.#tls = tls;
    this.#proxyTrusted = new CidrList(c.proxy.trusted);
    this.#trusted = new CidrList(c.server.trusted_networks);
    this.#baseDeps = {
      config: c,
      spool: opts.spool,
      log: opts.log,
      policy,
      senderAuth,
      tls,
      credentials,
      authLimiter: new AuthFailureLimiter(c.auth.ip_max_failures, c.auth.ip_window),
      indexMutations: opts.indexMutations,
      accepted: opts.accepted,
      freeSpace: spoolReserve(opts),
      verbs: VERBS,
    };
  }

  /** Loads TLS and credentials, binds every listener and starts accepting. */
  static async start(opts: ServerOptions): Promise<SmtpServer> {
    const c = opts.config;
    let tls: ServerCredentials | null = null;
    const certs = typeof c.tls.certificate === "string"
      ? (c.tls.certificate
        ? [{ certificate: c.tls.certificate, privateKey: c.tls.private_key }]
        : [])
      : c.tls.certificate.map((e) => ({
        certificate: e.certificate,
        privateKey: e.private_key,
        names: e.names,
      }));
    if (certs.length > 0) {
      tls = new ServerCredentials(certs, "", c.tls.min_version);
      await tls.load();
    }
    const credentials = c.auth.credentials ? await CredentialStore.open(c.auth.credentials) : null;
    const resolver = opts.resolver ?? new Resolver({ ...c.dns });
    const senderAuth = await senderAuthFor(c, resolver);
    const policy = opts.policy ?? await openPolicy(c, {
      kv: opts.spool.keyspace("lookup"),
      counters: opts.spool.keyspace("ratelimit"),
      resolver: relayResolver(resolver),
      spf: spfFunction(resolver, c.server.hostname),
    });
    const server = new SmtpServer(
      opts,
      tls,
      credentials,
      policy,
      !opts.policy,
      senderAuth,
      resolver,
    );
    try {
      for (const listen of c.listen) server.#bind(listen);
    } catch (e) {
      server.#listeners.forEach((l) => l.close());
      throw e;
    }
    // One timer enforces every session's command and data timeouts.
    const every = Math.min(
      1000,
      Math.max(25, Math.min(c.smtp.command_timeout, c.smtp.data_timeout) / 4),
    );
    server.#sweeper = setInterval(() => server.#sweep(), every);
    return server;
  }

  #bind(listen: ListenConfig): void {
    const { host, port } = parseHostPort(listen.address);
    const listener = Deno.listen({ hostname: host, port, transport: "tcp" });
    this.#listeners.push(listener);
    const addr = listener.addr as Deno.NetAddr;
    this.addresses.push({ listen, hostname: addr.hostname, port: addr.port });
    this.#opts.log.info(
      `SMTP listening on ${listen.address} (port ${addr.port}, role ${listen.role})`,
      {
        event: "listen",
        address: listen.address,
        port: addr.port,
      },
    );
    this.#accept(listener, listen);
  }

  async #accept(listener: Deno.Listener, listen: ListenConfig): Promise<void> {
    const deps: SessionDeps = { ...this.#baseDeps, listener: listen };
    try {
      for await (const conn of listener) {
        this.#handle(conn, deps).catch((e) => {
          this.#opts.log.error(`session error: ${(e as Error).stack ?? e}`);
          try {
            conn.close();
          } catch { /* closed */ }
        });
      }
    } catch (e) {
      if (!this.#closing) {
        this.#opts.log.error(`listener ${listen.address} failed: ${(e as Error).message}`);
      }
    }
  }

  async #handle(conn: Deno.Conn, deps: SessionDeps): Promise<void> {
    // Replies are written whole, one write per batch: Nagle would only add delay.
    (conn as Deno.TcpConn).setNoDelay?.(true);
    const remote = conn.remoteAddr as Deno.NetAddr;
    const peer: Peer = { ip: normalizeIP(remote.hostname), port: remote.port };
    const s = new Session(conn, connStream(conn), deps, peer);
    const c = deps.config;
    if (this.#sessions.size >= c.server.max_connections || this.#closing) {
      this.#opts.log.info(
        `Connection from [${peer.ip}] refused: too many connections (${this.#sessions.size})`,
        {
          event: "too_many_connections",
          ip: peer.ip,
        },
      );
      await s.sendAndClose(
        reply(421, "4.7.0", `${c.server.hostname} Too many connections, try again later`),
      );
      return;
    }
    this.#sessions.add(s);
    let counted: string | null = null;
    try {
      const viaProxy = deps.listener.proxy_protocol && await this.#proxyTrustedHost(peer.ip);
      if (viaProxy === "defer") {
        await s.sendAndClose(reply(421, "4.3.0", `${c.server.hostname} Temporary lookup failure`));
        return;
      }
      if (viaProxy) {
        await negotiateProxy(s, c.proxy.timeout);
        if (s.closed) return;
      }
      const ip = s.peer.ip;
      s.trustedClient = this.#trusted.contains(ip);
      // The last reserved_connections slots are for trusted clients and submission.
      const open = c.server.max_connections - c.server.reserved_connections;
      if (this.#sessions.size > open && !s.trustedClient && deps.listener.role !== "submission") {
        this.#opts.log.info(
          `Connection from [${ip}] refused: too many connections (${this.#sessions.size - 1}, ` +
            `${c.server.reserved_connections} reserved for trusted clients and submission)`,
          { event: "too_many_connections", ip },
        );
        await s.sendAndClose(
          reply(421, "4.7.0", `${c.server.hostname} Too many connections, try again later`),
        );
        return;
      }
      const n = (this.#perIp.get(ip) ?? 0) + 1;
      this.#perIp.set(ip, n);
      counted = ip;
      if (n > c.server.max_connections_per_ip) {
        this.#opts.log.info(
          `Connection from [${ip}] refused: too many connections from that IP (${n - 1})`,
          {
            event: "too_many_connections",
            ip,
          },
        );
        await s.sendAndClose(
          reply(421, "4.7.0", `${c.server.hostname} Too many connections from your IP`),
        );
        return;
      }
      if (c.server.reverse_dns) s.peer.hostname = await reverseLookup(this.#resolver, ip);
      s.startPolicy();
      this.#opts.log.debug(
        `SMTP connection from ${s.hostText} (TCP/IP connection count = ${this.#sessions.size})`,
      );
      await s.greet();
      if (!s.closed) await s.run();
      if (!s.quitSeen && s.policy) await s.policy.check("notquit").catch(() => {}); // logs only
    } finally {
      s.close();
      s.tx?.body?.drop(); // gone mid-body (BDAT): drop the partial now
      s.input.release();
      // A session counts until its connection is closed, so close() leaves no socket open.
      await s.whenClosed;
      this.#sessions.delete(s);
      if (counted) {
        const left = (this.#perIp.get(counted) ?? 1) - 1;
        if (left <= 0) this.#perIp.delete(counted);
        else this.#perIp.set(counted, left);
      }
    }
  }

  /** A host may send PROXY headers when listed in [proxy] trusted or its trusted_lookup. */
  async #proxyTrustedHost(ip: string): Promise<boolean | "defer"> {
    if (this.#proxyTrusted.contains(ip)) return true;
    const name = this.#opts.config.proxy.trusted_lookup;
    if (!name) return false;
    try {
      return (await this.#baseDeps.policy.lookups.require(name).get(ip)) !== null;
    } catch (e) {
      // Unknown now: neither trust the host nor take its header as SMTP; it may retry.
      this.#opts.log.warn(
        `proxy trusted_lookup ${name} failed for [${ip}]: ${(e as Error).message}`,
      );
      return "defer";
    }
  }

  #sweep(): void {
    const now = Date.now();
    for (const s of this.#sessions) if (s.input.deadline < now) s.expire();
  }

  /** Sessions in progress. */
  get sessionCount(): number {
    return this.#sessions.size;
  }

  /** Reloads the TLS certificate and key (SIGHUP); keeps the old ones on error. */
  async reloadTls(): Promise<void> {
    await this.#tls?.load();
  }

  /**
   * Stops accepting, waits up to `graceMs` for sessions to finish, then closes the rest
   * (a session mid-DATA has not been told 250, so the client will retry).
   */
  async close(graceMs = 0): Promise<void> {
    this.#closing = true;
    clearInterval(this.#sweeper);
    for (const l of this.#listeners) {
      try {
        l.close();
      } catch { /* closed */ }
    }
    const until = Date.now() + graceMs;
    while (this.#sessions.size > 0 && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 50));
    }
    for (const s of this.#sessions) s.close();
    while (this.#sessions.size > 0) await new Promise((r) => setTimeout(r, 10));
    await this.#ownPolicy?.close();
    this.#tls?.close();
  }
}

/** The spool's free-space reserve, logging each crossing once (none for an in-memory spool). */
function spoolReserve(opts: ServerOptions): FreeSpace | null {
  const reserve = opts.config.server.spool_min_free;
  if (opts.spool.path === ":memory:" || reserve <= 0) return null;
  const mb = (n: number) => `${Math.floor(n / 1048576)} MB`;
  if (statvfsAvailable(opts.spool.path) === null) {
    opts.log.warn(
      `cannot read the free space of ${opts.spool.path} (statvfs through FFI needs ` +
        `--allow-ffi and 64-bit Linux): [server] spool_min_free is not enforced`,
    );
    return null;
  }
  return new FreeSpace(opts.spool.path, reserve, (c) => {
    if (c.low) {
      opts.log.error(
        `spool filesystem low on space: ${mb(c.available)} free, below spool_min_free ` +
          `${mb(c.reserve)}: new mail refused with 452 4.3.1 until there is room`,
        { event: "spool_low", available: c.available },
      );
    } else {
      opts.log.info(`spool filesystem has room again (${mb(c.available)} free): accepting mail`, {
        event: "spool_room",
        available: c.available,
      });
    }
  });
}
