// @ts-types="../dns/dns_packet.d.ts"
import type { RecordType } from "dns-packet";
import { DnsError, type Resolver } from "../dns/mod.ts";
import { DnsLookupError } from "./errors.ts";

/**
 * A lookup function shaped like node's `dns.promises.resolve(name, rrtype)`, which mailauth
 * takes as its `resolver` option.
 */
export type ResolveFunction = (name: string, rrtype: string) => Promise<unknown[]>;

/** Answers to put in front of DNS, as `TYPE name` → records (e.g. a guessed SPF record). */
export type ResolveOverrides = Map<string, unknown[]>;

const NODE_CODES: Record<string, string> = {
  nxdomain: "ENOTFOUND",
  servfail: "ESERVFAIL",
  refused: "EREFUSED",
  timeout: "ETIMEOUT",
  network: "ECONNREFUSED",
  malformed: "EBADRESP",
};

const SUPPORTED = new Set(["A", "AAAA", "TXT", "MX", "PTR", "CNAME"]);

/**
 * Adapts our {@linkcode Resolver} to mailauth: records in node's shapes (TXT as lists of
 * strings, MX as `{ exchange, priority }`), NXDOMAIN as ENOTFOUND, no records as ENODATA, and
 * temporary failures as ESERVFAIL/ETIMEOUT/EREFUSED/ECONNREFUSED.
 *
 * @param resolver The resolver to ask (its cache and servers apply).
 * @param overrides Answers given without asking DNS, keyed `TYPE name` (lower case).
 * @returns A function to pass as mailauth's `resolver` option.
 * @example Usage
 * ```ts
 * const resolve = mailauthResolver(new Resolver({ servers: ["127.0.0.1:5353"] }));
 * const txt = await resolve("example.org", "TXT"); // [["v=spf1 -all"]]
 * ```
 */
export function mailauthResolver(
  resolver: Resolver,
  overrides?: ResolveOverrides,
): ResolveFunction {
  return async (name: string, rrtype: string): Promise<unknown[]> => {
    const qname = name.toLowerCase().replace(/\.$/, "");
    const type = rrtype.toUpperCase();
    const given = overrides?.get(`${type} ${qname}`);
    if (given) return given.slice();
    if (!SUPPORTED.has(type)) throw new DnsLookupError("ENOTIMP", qname, type);
    let result;
    try {
      result = await resolver.lookup(qname, type as RecordType);
    } catch (e) {
      const code = e instanceof DnsError ? NODE_CODES[e.failure] ?? "ESERVFAIL" : "ESERVFAIL";
      throw new DnsLookupError(code, qname, type, { cause: e });
    }
    if (result.rcode === "NXDOMAIN") throw new DnsLookupError("ENOTFOUND", qname, type);
    if (result.records.length === 0) throw new DnsLookupError("ENODATA", qname, type);
    return result.records.map((r) => toNodeShape(type, r.data));
  };
}

function toNodeShape(type: string, data: unknown): unknown {
  switch (type) {
    case "TXT": {
      const parts = Array.isArray(data) ? data : [data];
      return parts.map((p) =>
        typeof p === "string" ? p : new TextDecoder().decode(p as Uint8Array)
      );
    }
    case "MX": {
      const mx = data as { preference: number; exchange: string };
      return { priority: mx.preference, exchange: mx.exchange.replace(/\.$/, "") };
    }
    default:
      return String(data).replace(/\.$/, "");
  }
}
