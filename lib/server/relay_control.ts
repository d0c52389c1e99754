import type { CidrList } from "../net/mod.ts";

/** Matches a domain against a list of names and `*.example.org` patterns. */
export function domainInList(domain: string, list: readonly string[]): boolean {
  const d = domain.toLowerCase();
  return list.some((p) => p === "*" || p === d || (p.startsWith("*.") && d.endsWith(p.slice(1))));
}

/**
 * The built-in relay rule (used when no rcpt ACL is configured): recipients in the relay's
 * own or relay domains are accepted from anyone; any other recipient only from trusted
 * networks or authenticated clients. Never an open relay.
 */
export class RelayControl {
  #domains: string[];
  #trusted: CidrList;

  /** Creates the rule from the configured domains and trusted networks. */
  constructor(localDomains: string[], relayDomains: string[], trusted: CidrList) {
    this.#domains = [...localDomains, ...relayDomains];
    this.#trusted = trusted;
  }

  /** Tells whether the client's IP is in the trusted networks. */
  trusted(ip: string): boolean {
    return this.#trusted.contains(ip);
  }

  /** Tells whether mail for the recipient domain is accepted from this client. */
  permits(rcptDomain: string, clientIp: string, authenticated: boolean): boolean {
    return domainInList(rcptDomain, this.#domains) || authenticated || this.trusted(clientIp);
  }
}
