// @ts-types="./dns_packet.d.ts"
import type { RecordType } from "dns-packet";
import { type HostPort, parseHostPort } from "../net/mod.ts";
import { DnsCache } from "./cache.ts";
import { DnsError } from "./errors.ts";
import { readResolvConf } from "./resolv_conf.ts";
import { type Answer, exchange, ExchangeTimeout, type Packet } from "./wire.ts";

/** Resolver settings, as in the `[dns]` config section. */
export interface ResolverOptions {
  /** Servers as `host:port` (port defaults to 53); empty or absent: /etc/resolv.conf. */
  servers?: string[];
  /** Milliseconds to wait for one answer (default 5000, or resolv.conf's). */
  timeout?: number;
  /** Rounds over all servers (default 2, or resolv.conf's). */
  attempts?: number;
  /** Keep answers for their TTL (default true). */
  cache?: boolean;
  /** Upper bound on cached TTLs in seconds (default 86400). */
  maxTtl?: number;
  /** Where to read servers when none are given (default /etc/resolv.conf). */
  resolvConf?: string;
  /**
   * Servers (`host` or `host:port`) trusted to validate DNSSEC: only their AD bit is believed
   * (RFC 6698 4.1). Absent: loopback servers only (a validating resolver on this machine).
   */
  dnssecTrusted?: string[];
}

/** The answer to one lookup after following CNAMEs. */
export interface DnsResult {
  /** The name asked for. */
  name: string;
  /** The type asked for. */
  type: RecordType;
  /** NOERROR (records may be empty: NODATA) or NXDOMAIN. */
  rcode: "NOERROR" | "NXDOMAIN";
  /**
   * The AD bit: every step was validated by a trusted resolver. On NXDOMAIN and NODATA it
   * means an authenticated denial (RFC 7672 2.2).
   */
  ad: boolean;
  /** The name the records belong to, after CNAMEs. */
  canonicalName: string;
  /** Records of the asked type at the canonical name. */
  records: Answer[];
  /** Smallest TTL seen, in seconds. */
  ttl: number;
}

const MAX_CNAME_HOPS = 8;
const NEGATIVE_TTL = 60; // used when the server sends no SOA (RFC 2308 5)

/**
 * A stub resolver on dns-packet: UDP with TCP fallback, servers in order with timeouts and
 * attempts, a TTL cache, CNAME following, the AD bit and typed failures.
 *
 * @example Usage
 * ```ts
 * const r = new Resolver({ servers: ["127.0.0.1:5353"] });
 * const ips = await r.resolveA("mx.example.org");
 * ```
 */
export class Resolver {
  #opts: ResolverOptions;
  #servers?: Promise<{ servers: HostPort[]; timeout: number; attempts: number }>;
  #cache = new DnsCache<DnsResult>();
  #pending = new Map<string, Promise<DnsResult>>();

  /** Creates a resolver; nothing is read or sent until the first lookup. */
  constructor(opts: ResolverOptions = {}) {
    this.#opts = opts;
  }

  #config() {
    this.#servers ??= (async () => {
      const o = this.#opts;
      if (o.servers && o.servers.length > 0) {
        return {
          servers: o.servers.map((s) => parseHostPort(s, 53)),
          timeout: o.timeout ?? 5000,
          attempts: o.attempts ?? 2,
        };
      }
      const rc = await readResolvConf(o.resolvConf);
      return {
        servers: rc.servers.map((s) => parseHostPort(s, 53)),
        timeout: o.timeout ?? rc.timeout ?? 5000,
        attempts: o.attempts ?? rc.attempts ?? 2,
      };
    })();
    return this.#servers;
  }

  /**
   * Looks up `name`/`type`, following CNAMEs. NXDOMAIN comes back as a result (rcode
   * NXDOMAIN); server failures, refusals and timeouts throw a temporary {@linkcode DnsError}.
   */
  async lookup(name: string, type: RecordType): Promise<DnsResult> {
    const qname = name.toLowerCase().replace(/\.$/, "");
    // RFC 1035 2.3.4: such a name cannot exist; asking would only wait out the timeouts.
    if (!validName(qname)) return noSuchName(qname, type);
    const key = `${type} ${qname}`;
    const cached = this.#opts.cache === false ? undefined : this.#cache.get(key);
    if (cached) return cached;
    // Concurrent lookups of the same name share one query.
    const pending = this.#pending.get(key);
    if (pending) return await pending;
    const p = this.#follow(qname, type);
    this.#pending.set(key, p);
    try {
      const result = await p;
      if (this.#opts.cache !== false) {
        this.#cache.set(key, result, Math.min(result.ttl, this.#opts.maxTtl ?? 86400));
      }
      return result;
    } finally {
      this.#pending.delete(key);
    }
  }

  async #follow(qname: string, type: RecordType): Promise<DnsResult> {
    let current = qname;
    let ad = true;
    let ttl = Infinity;
    for (let hop = 0; hop <= MAX_CNAME_HOPS; hop++) {
      const { res, trusted } = await this.#ask(current, type);
      ad &&= trusted && res.flag_ad === true;
      const answers = res.answers ?? [];
      const asked = current;
      // Walk the CNAME chain inside this answer (RFC 1034 3.6.2).
      for (let i = 0; i < MAX_CNAME_HOPS && type !== "CNAME"; i++) {
        const cname = answers.find((a) => a.type === "CNAME" && a.name.toLowerCase() === current);
        if (!cname) break;
        ttl = Math.min(ttl, cname.ttl ?? 0);
        current = String(cname.data).toLowerCase().replace(/\.$/, "");
      }
      const records = answers.filter((a) => a.type === type && a.name.toLowerCase() === current);
      for (const r of records) ttl = Math.min(ttl, r.ttl ?? 0);
      const result = (rcode: "NOERROR" | "NXDOMAIN"): DnsResult => ({
        name: qname,
        type,
        rcode,
        ad,
        canonicalName: current,
        records,
        ttl: records.length > 0 ? ttl : Math.min(ttl, negativeTtl(res)),
      });
      if (res.rcode === "NXDOMAIN") return result("NXDOMAIN");
      if (records.length > 0 || current === asked) return result("NOERROR");
      // The chain led to a name this answer says nothing more about: ask for it.
    }
    throw new DnsError("malformed", qname, type, {
      message: `Cannot resolve ${qname} ${type}: CNAME chain too long`,
    });
  }

  /** Whether a server's AD bit is believed. */
  #trusts(server: HostPort): boolean {
    const list = this.#opts.dnssecTrusted;
    if (!list) return isLoopback(server.host);
    return list.some((t) => {
      let want: HostPort;
      try {
        want = parseHostPort(t, 0);
      } catch {
        want = { host: t.replace(/^\[|\]$/g, ""), port: 0 }; // a bare IPv6 address
      }
      return want.host === server.host && (want.port === 0 || want.port === server.port);
    });
  }

  /** Sends one question to the servers in order, `attempts` rounds. */
  async #ask(name: string, type: RecordType): Promise<{ res: Packet; trusted: boolean }> {
    const { servers, timeout, attempts } = await this.#config();
    let last: DnsError | undefined;
    for (let round = 0; round < attempts; round++) {
      for (const server of servers) {
        let res: Packet;
        try {
          res = await exchange(server, { name, type }, { timeout });
        } catch (e) {
          const failure = e instanceof ExchangeTimeout ? "timeout" : "network";
          last = new DnsError(failure, name, type, { cause: e });
          continue;
        }
        const rcode = res.rcode ?? "NOERROR";
        if (rcode === "NOERROR" || rcode === "NXDOMAIN") {
          return { res, trusted: this.#trusts(server) };
        }
        const failure = rcode === "SERVFAIL"
          ? "servfail"
          : rcode === "REFUSED"
          ? "refused"
          : "malformed";
        last = new DnsError(failure, name, type, { rcode });
      }
    }
    throw last ?? new DnsError("network", name, type);
  }

  async #records(name: string, type: RecordType): Promise<DnsResult> {
    const r = await this.lookup(name, type);
    if (r.rcode === "NXDOMAIN") {
      throw new DnsError("nxdomain", name, type, { rcode: "NXDOMAIN", ad: r.ad });
    }
    return r;
  }

  /** IPv4 addresses of a name ([] when it has none); NXDOMAIN throws a permanent DnsError. */
  async resolveA(name: string): Promise<string[]> {
    return (await this.#records(name, "A")).records.map((r) => String(r.data));
  }

  /** IPv6 addresses of a name ([] when it has none). */
  async resolveAAAA(name: string): Promise<string[]> {
    return (await this.#records(name, "AAAA")).records.map((r) => String(r.data));
  }

  /** MX records as given (unsorted); [] when the domain has none. */
  async resolveMx(name: string): Promise<{ preference: number; exchange: string }[]> {
    return (await this.#records(name, "MX")).records.map((r) => {
      const d = r.data as { preference: number; exchange: string };
      return { preference: d.preference, exchange: d.exchange.toLowerCase().replace(/\.$/, "") };
    });
  }

  /** TXT records, each joined from its strings. */
  async resolveTxt(name: string): Promise<string[]> {
    return (await this.#records(name, "TXT")).records.map((r) => {
      const parts = Array.isArray(r.data) ? r.data : [r.data];
      return parts.map((p) => typeof p === "string" ? p : new TextDecoder().decode(p as Uint8Array))
        .join("");
    });
  }

  /** PTR names of an address (reverse lookup). */
  async resolvePtr(ip: string): Promise<string[]> {
    return (await this.#records(reverseName(ip), "PTR")).records.map((r) =>
      String(r.data).replace(/\.$/, "")
    );
  }

  /**
   * TLSA records at `name` (RFC 6698), CNAMEs followed (RFC 7671 7), with the AD bit. A
   * denial (NXDOMAIN or NODATA) is a result, with `ad` telling whether it was authenticated;
   * SERVFAIL (bogus at a validating resolver) and timeouts throw a temporary DnsError.
   */
  async resolveTlsa(name: string): Promise<TlsaAnswer> {
    const r = await this.lookup(name, "TLSA");
    return {
      ad: r.ad,
      rcode: r.rcode,
      canonicalName: r.canonicalName,
      records: r.records.map((a) => {
        const d = a.data as {
          usage: number;
          selector: number;
          matchingType: number;
          certificate: Uint8Array;
        };
        return {
          usage: d.usage,
          selector: d.selector,
          matchingType: d.matchingType,
          data: new Uint8Array(d.certificate),
        };
      }),
    };
  }

  /** A host's A or AAAA records with the AD bit; NXDOMAIN throws a permanent DnsError. */
  async resolveAddresses(name: string, type: "A" | "AAAA"): Promise<SecureAddresses> {
    const r = await this.#records(name, type);
    return { ad: r.ad, addresses: r.records.map((a) => String(a.data)) };
  }

  /** Forgets cached answers. */
  clearCache(): void {
    this.#cache.clear();
  }
}

/** The answer to a TLSA question. */
export interface TlsaAnswer {
  /** Validated by a trusted resolver (records, or the denial when there are none). */
  ad: boolean;
  /** NXDOMAIN or NOERROR (no records: NODATA). */
  rcode: "NOERROR" | "NXDOMAIN";
  /** The name the records were found at, after CNAMEs. */
  canonicalName: string;
  /** The records (possibly none). */
  records: TlsaRecord[];
}

/** Address records with the AD bit of their answer. */
export interface SecureAddresses {
  /** Validated by a trusted resolver. */
  ad: boolean;
  /** The addresses (possibly none). */
  addresses: string[];
}

/** Whether a server address is on this machine (127.0.0.0/8 or ::1). */
function isLoopback(host: string): boolean {
  return /^127\./.test(host) || host === "::1" || host === "localhost";
}

/** One TLSA record (RFC 6698 2.1). */
export interface TlsaRecord {
  /** Certificate usage (0-3). */
  usage: number;
  /** Full certificate (0) or public key (1). */
  selector: number;
  /** Exact (0), SHA-256 (1) or SHA-512 (2). */
  matchingType: number;
  /** Certificate association data. */
  data: Uint8Array;
}

const MAX_LABEL = 63;
const MAX_NAME = 253; // 255 octets on the wire, less the length of the first label and the root

const encoder = new TextEncoder();

/** Tells whether a name (no trailing dot) fits RFC 1035 2.3.4: labels 1-63, name ≤ 253 octets. */
export function validName(name: string): boolean {
  if (name === "") return true; // the root
  if (encoder.encode(name).length > MAX_NAME) return false;
  return name.split(".").every((l) => l.length > 0 && encoder.encode(l).length <= MAX_LABEL);
}

function noSuchName(name: string, type: RecordType): DnsResult {
  return { name, type, rcode: "NXDOMAIN", ad: false, canonicalName: name, records: [], ttl: 0 };
}

function negativeTtl(res: Packet): number {
  const soa = (res.authorities ?? []).find((a) => a.type === "SOA");
  if (!soa) return NEGATIVE_TTL;
  const min = (soa.data as { minimum?: number }).minimum ?? NEGATIVE_TTL;
  return Math.min(soa.ttl ?? NEGATIVE_TTL, min); // RFC 2308 5
}

/** The in-addr.arpa / ip6.arpa name of an address. */
export function reverseName(ip: string): string {
  if (!ip.includes(":")) return ip.split(".").reverse().join(".") + ".in-addr.arpa";
  const groups = ip.split("::");
  const head = groups[0] ? groups[0].split(":") : [];
  const tail = groups.length > 1 && groups[1] ? groups[1].split(":") : [];
  const full = [...head, ...Array(8 - head.length - tail.length).fill("0"), ...tail];
  const nibbles = full.map((g) => g.padStart(4, "0")).join("").split("");
  return nibbles.reverse().join(".") + ".ip6.arpa";
}
