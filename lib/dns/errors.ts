/** Why a DNS query gave no usable answer. */
export type DnsFailure =
  | "nxdomain"
  | "servfail"
  | "refused"
  | "timeout"
  | "network"
  | "malformed"
  | "nullmx"
  | "noaddress";

/** A DNS lookup failed; `temporary` tells whether asking again later may help. */
export class DnsError extends Error {
  /** What went wrong. */
  readonly failure: DnsFailure;
  /** The name that was asked for. */
  readonly domain: string;
  /** The record type that was asked for. */
  readonly type: string;
  /** The response code, when a server answered. */
  readonly rcode?: string;
  /** For NXDOMAIN: the denial was authenticated by a trusted validating resolver (AD). */
  readonly ad: boolean;
  /** True when a later retry may succeed (SERVFAIL, timeout); false for NXDOMAIN, null MX. */
  readonly temporary: boolean;

  /** Creates the error for a failed lookup of `domain`/`type`. */
  constructor(
    failure: DnsFailure,
    domain: string,
    type: string,
    options: { rcode?: string; message?: string; cause?: unknown; ad?: boolean } = {},
  ) {
    super(options.message ?? describe(failure, domain, type), { cause: options.cause });
    this.name = "DnsError";
    this.failure = failure;
    this.domain = domain;
    this.type = type;
    this.rcode = options.rcode;
    this.ad = options.ad ?? false;
    this.temporary = !(failure === "nxdomain" || failure === "nullmx" || failure === "noaddress");
  }
}

function describe(failure: DnsFailure, domain: string, type: string): string {
  switch (failure) {
    case "nxdomain":
      return `Cannot resolve ${domain}: no such domain (NXDOMAIN)`;
    case "servfail":
      return `Cannot resolve ${domain} ${type}: server failure (SERVFAIL)`;
    case "refused":
      return `Cannot resolve ${domain} ${type}: query refused`;
    case "timeout":
      return `Cannot resolve ${domain} ${type}: no answer from any server (timeout)`;
    case "network":
      return `Cannot resolve ${domain} ${type}: network error`;
    case "malformed":
      return `Cannot resolve ${domain} ${type}: malformed answer`;
    case "nullmx":
      return `Cannot deliver to ${domain}: domain does not accept mail (null MX)`;
    case "noaddress":
      return `Cannot resolve ${domain}: host has no A or AAAA record`;
  }
}
