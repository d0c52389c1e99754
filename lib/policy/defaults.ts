import type { RuleConfig } from "./compile.ts";

/**
 * The built-in rcpt rules (relay control), used when no `[[acl.rcpt]]` is configured and
 * after the configured rules when none of them decided: never an open relay.
 * `relay.domains` holds `local_domains` and `relay_domains`.
 */
export const DEFAULT_RCPT_RULES: readonly RuleConfig[] = [
  { accept: 'rcpt.address.lowerAscii() == "postmaster"' }, // RFC 5321 4.5.1
  { accept: "domain_in(rcpt.domain, relay.domains)" },
  { accept: "authenticated" },
  { accept: "in_cidr(client.ip, relay.trusted_networks)" },
  { deny: "true", message: "554 5.7.1 <{rcpt.address}>: Relay access denied" },
];
