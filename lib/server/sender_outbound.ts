import {
  arcSet,
  dkimSignature,
  type DkimSignOptions,
  isSrs,
  SrsError,
  srsForward,
  srsReverse,
} from "../senderauth/mod.ts";
import { type Reply, reply } from "../smtp/mod.ts";
import type { Session } from "./session.ts";
import { inbound } from "./sender_auth.ts";

/**
 * The ARC set (RFC 8617 5.1) for inbound mail the relay passes on, with the chain's
 * verification result as cv= and our Authentication-Results; null when not sealing. The
 * message is read piece by piece.
 */
export async function arcSealed(
  s: Session,
  message: () => AsyncIterable<Uint8Array>,
): Promise<string | null> {
  const seal = s.deps.senderAuth?.arcSeal;
  const authResults = s.pendingHeaders.find((h) => h.startsWith("Authentication-Results:"));
  if (!seal || !inbound(s) || !authResults) return null;
  const cv = (s.policy.context.arc?.result ?? "none") as "none" | "pass" | "fail";
  try {
    return await arcSet(message(), { ...seal, cv, authResults });
  } catch (e) {
    s.deps.log.warn(`${s.hostText} ARC seal not added: ${(e as Error).message}`);
    return null;
  }
}

/**
 * The SRS0/SRS1 sender for mail from outside that the relay will pass on (forwarding):
 * receivers checking SPF then see our domain, and bounces come back to us to be reversed.
 */
export function srsSenderFor(s: Session, sender: string): string | undefined {
  const c = s.config.srs;
  if (!c.domain || sender === "" || !inbound(s)) return undefined;
  try {
    const rewritten = srsForward(sender, c.domain, c.secrets);
    return rewritten === sender ? undefined : rewritten;
  } catch {
    return undefined; // an address SRS cannot rewrite goes out unchanged
  }
}

/**
 * For RCPT to an address at the SRS domain: the original address it stands for, or an
 * error reply when it is forged, expired or not SRS at all (RFC-less; as Exim's srs_reverse).
 */
export function srsRecipient(s: Session, address: string): string | Reply | null {
  const c = s.config.srs;
  const at = address.lastIndexOf("@");
  if (!c.domain || at < 0 || address.slice(at + 1).toLowerCase() !== c.domain.toLowerCase()) {
    return null;
  }
  if (!isSrs(address)) return reply(550, "5.1.1", `<${address}>: no such user`);
  try {
    return srsReverse(address, c.secrets, c.max_age_days);
  } catch (e) {
    const why = e instanceof SrsError ? e.failure : "syntax";
    return reply(550, "5.1.1", `<${address}>: invalid SRS address (${why})`);
  }
}

/** The `[[dkim.sign]]` key for a message from a trusted or authenticated client, if any. */
export function signerFor(s: Session, fromDomain: string | null): DkimSignOptions | null {
  const a = s.deps.senderAuth;
  if (!a || a.signers.size === 0 || inbound(s) || !fromDomain) return null;
  return a.signers.get(fromDomain.toLowerCase()) ?? null;
}

/** The DKIM-Signature field (RFC 6376 5) for the message, read piece by piece. */
export function sign(
  message: () => AsyncIterable<Uint8Array>,
  opts: DkimSignOptions,
): Promise<string> {
  return dkimSignature(message(), opts);
}
