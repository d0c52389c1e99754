import type { Config } from "../config/mod.ts";
import type { Resolver } from "../dns/mod.ts";
import { type DkimSignOptions, spfFor } from "../senderauth/mod.ts";
import type { SpfFunction } from "../policy/mod.ts";
import type { Session } from "./session.ts";

/** What sender authentication needs, built once per server. */
export interface SenderAuth {
  resolver: Resolver;
  config: Pick<Config, "spf" | "dkim" | "dmarc" | "arc">;
  /** Signing keys by lower-case domain. */
  signers: Map<string, DkimSignOptions>;
  /** The ARC sealing key, when `[arc] seal_domain` is set. */
  arcSeal?: { domain: string; selector: string; privateKeyPem: string };
}

/** `spf(address, ip)` for ACL conditions, through the relay's resolver. */
export function spfFunction(resolver: Resolver, hostname: string): SpfFunction {
  return (address, ip) => spfFor(address, ip, { resolver, hostname });
}

/** Builds sender authentication for a configuration (keys are read now). */
export async function senderAuthFor(config: Config, resolver: Resolver): Promise<SenderAuth> {
  return {
    resolver,
    config,
    signers: await loadSigners(config),
    arcSeal: await loadArcSeal(config),
  };
}

/** Loads the `[arc]` sealing key, if any (at start-up). */
export async function loadArcSeal(config: Config): Promise<SenderAuth["arcSeal"]> {
  const a = config.arc;
  if (!a.seal_domain) return undefined;
  return {
    domain: a.seal_domain,
    selector: a.seal_selector,
    privateKeyPem: await Deno.readTextFile(a.seal_key_file),
  };
}

/** Loads the `[[dkim.sign]]` keys (at start-up, so a missing file fails early). */
export async function loadSigners(config: Config): Promise<Map<string, DkimSignOptions>> {
  const signers = new Map<string, DkimSignOptions>();
  for (const s of config.dkim.sign) {
    signers.set(s.domain.toLowerCase(), {
      domain: s.domain,
      selector: s.selector,
      privateKeyPem: await Deno.readTextFile(s.key_file),
      algorithm: s.algorithm,
      headers: s.headers,
      oversign: s.oversign,
      canonicalization: s.canonicalization,
    });
  }
  return signers;
}

/**
 * Inbound checks apply to clients that are neither in trusted_networks nor authenticated:
 * mail from your own network and users is outbound, and gets signed instead.
 */
export function inbound(s: Session): boolean {
  return s.authUser === null && !s.trustedClient;
}

/** Joins body chunks into one array (no copy for a single chunk). */
export function joined(chunks: Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}
