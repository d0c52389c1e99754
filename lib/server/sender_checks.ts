import type { Config } from "../config/mod.ts";
import type { Resolver } from "../dns/mod.ts";
import {
  allowedReportAddresses,
  authenticationResults,
  checkDmarc,
  checkSpf,
  type DkimSignOptions,
  dmarcHistoryEntry,
  forensicReport,
  isSrs,
  reportUris,
  sealArc,
  signDkim,
  type SpfCheck,
  spfFor,
  SrsError,
  srsForward,
  srsReverse,
  verifyArc,
  verifyDkim,
} from "../senderauth/mod.ts";
import type { Session } from "./session.ts";
import type { Transaction } from "./transaction.ts";
import { localEnvelope, newMessageId } from "../spool/mod.ts";
import type { SpfFunction } from "../policy/mod.ts";
import { type Reply, reply } from "../smtp/mod.ts";

/** Where DMARC results are kept for aggregate reports: `["dmarc", "history", ms, uuid]`. */
export const DMARC_HISTORY: Deno.KvKey = ["dmarc", "history"];

/** The key of one DMARC history entry. */
export function dmarcHistoryKey(time: number): Deno.KvKey {
  return [...DMARC_HISTORY, time, crypto.randomUUID()];
}

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

/**
 * Adds an ARC set (RFC 8617 5.1) to inbound mail the relay passes on, with the chain's
 * verification result as cv= and our Authentication-Results; null when not sealing.
 */
export async function arcSealed(s: Session, chunks: Uint8Array[]): Promise<Uint8Array | null> {
  const seal = s.deps.senderAuth?.arcSeal;
  const authResults = s.pendingHeaders.find((h) => h.startsWith("Authentication-Results:"));
  if (!seal || !inbound(s) || !authResults) return null;
  const cv = (s.policy.context.arc?.result ?? "none") as "none" | "pass" | "fail";
  try {
    return await sealArc(joined(chunks), { ...seal, cv, authResults });
  } catch (e) {
    s.deps.log.warn(`${s.hostText} ARC seal not added: ${(e as Error).message}`);
    return null;
  }
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

/** SPF at MAIL FROM (RFC 7208 2.4; the HELO identity for `<>`), into `spf.*` for ACLs. */
export async function spfAtMail(s: Session, sender: string): Promise<SpfCheck | null> {
  const a = s.deps.senderAuth;
  if (!a || !a.config.spf.enabled || !inbound(s)) return null;
  let spf: SpfCheck;
  try {
    spf = await checkSpf({
      ip: s.peer.ip,
      sender,
      helo: s.helo ?? "",
      hostname: s.config.server.hostname,
      resolver: a.resolver,
      guess: a.config.spf.guess,
      timeout: a.config.spf.timeout,
    });
  } catch (e) {
    s.deps.log.warn(`${s.hostText} SPF check failed: ${(e as Error).message}`);
    return null;
  }
  s.deps.log.debug(`${s.hostText} SPF ${spf.result} (guess ${spf.guess}): ${spf.header_comment}`);
  s.policy.setResult("spf", {
    result: spf.result,
    guess: spf.guess,
    domain: spf.domain,
    header_comment: spf.header_comment,
    smtp_comment: spf.smtp_comment,
    received: spf.received,
  });
  return spf;
}

function joined(chunks: Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

/**
 * DKIM, ARC and DMARC on the received message, before the data ACL: results go to `dkim.*`
 * and `dmarc.*`, and the Received-SPF and Authentication-Results headers (RFC 8601) to the
 * headers the message gets.
 */
export async function checkMessage(
  s: Session,
  spf: SpfCheck | null,
  chunks: Uint8Array[],
): Promise<void> {
  try {
    await checkMessageOrThrow(s, spf, chunks);
  } catch (e) {
    // The message goes on without results (ACLs see "none"); the admin sees why.
    s.deps.log.warn(`${s.hostText} DKIM/DMARC checks failed: ${(e as Error).message}`);
  }
}

async function checkMessageOrThrow(
  s: Session,
  spf: SpfCheck | null,
  chunks: Uint8Array[],
): Promise<void> {
  const a = s.deps.senderAuth;
  if (!a || !inbound(s)) return;
  const c = a.config;
  if (spf) s.pendingHeaders.push(spf.received);
  if (!c.dkim.verify && !c.dmarc.enabled && !c.arc.verify) {
    if (spf) s.pendingHeaders.push(authenticationResults(s.config.server.hostname, { spf }));
    return;
  }
  const dkim = await verifyDkim(joined(chunks), {
    resolver: a.resolver,
    minBitLength: c.dkim.min_key_bits,
  });
  const pass = dkim.results.filter((r) => r.result === "pass");
  s.policy.setResult("dkim", {
    result: pass.length > 0 ? "pass" : dkim.results[0]?.result ?? "none",
    domains: pass.map((r) => r.domain).join(" "),
  });
  const arc = c.arc.verify
    ? await verifyArc(dkim, { resolver: a.resolver, ip: s.peer.ip })
    : undefined;
  if (arc) s.policy.setResult("arc", { result: arc.result, instance: String(arc.instance || 0) });
  const dmarc = c.dmarc.enabled
    ? await checkDmarc({
      resolver: a.resolver,
      headerFrom: dkim.headerFrom,
      fromFields: dkim.fromFields,
      spf: spf ? { result: spf.result, domain: spf.domain } : undefined,
      dkim: dkim.results,
    })
    : undefined;
  if (dmarc && s.tx) s.tx.dmarc = dmarc;
  if (dmarc && spf && c.dmarc.history) {
    const entry = dmarcHistoryEntry({ ip: s.peer.ip, spf, dkim, dmarc });
    if (entry) await s.deps.spool.kv.set(dmarcHistoryKey(entry.time), entry);
  }
  if (dmarc) {
    s.policy.setResult("dmarc", {
      status: dmarc.status,
      result: dmarc.result,
      domain: dmarc.domain,
      used_domain: dmarc.used_domain,
      policy: dmarc.policy,
    });
  }
  s.deps.log.debug(
    `${s.hostText} DKIM ${dkim.results.map((r) => `${r.domain}:${r.result}`).join(" ") || "none"}` +
      `, ARC ${arc?.result ?? "-"}, DMARC ${dmarc ? `${dmarc.status} (${dmarc.domain})` : "-"}`,
  );
  s.pendingHeaders.push(
    authenticationResults(s.config.server.hostname, {
      spf: spf ?? undefined,
      dkim: c.dkim.verify ? dkim : undefined,
      dmarc,
      arc,
    }),
  );
}

/**
 * Sends a DMARC failure report (RFC 7489 7.3) for this message when a rule asked for it by
 * setting the variable `m_dmarc_forensic` (Exim's `control = dmarc_enable_forensic`), only
 * to ruf= addresses the policy domain allows, from `[dmarc] forensic_sender`.
 */
export async function forensicIfAsked(
  s: Session,
  tx: Transaction,
  chunks: Uint8Array[],
): Promise<void> {
  const a = s.deps.senderAuth;
  const d = tx.dmarc;
  const from = s.config.dmarc.forensic_sender;
  const asked = s.policy.context.vars["m_dmarc_forensic"];
  if (!a || !d || d.result !== "fail" || !from || (asked !== true && asked !== "true")) return;
  try {
    const to = await allowedReportAddresses(
      d.domain,
      reportUris(d.record).ruf,
      a.resolver,
    );
    if (to.length === 0) return;
    const report = forensicReport({
      from,
      to,
      hostname: s.config.server.hostname,
      message: joined(chunks),
      ip: s.peer.ip,
      mailFrom: tx.sender,
      dmarc: d,
      authResults: s.pendingHeaders.find((h) => h.startsWith("Authentication-Results:")) ?? "",
    });
    const id = newMessageId();
    await s.deps.spool.store(
      localEnvelope({
        id,
        sender: from,
        recipients: to,
        hostname: s.config.server.hostname,
        origin: "dmarc-forensic",
      }),
      [report],
    );
    s.deps.log.info(`${id} <= ${from} DMARC failure report for ${d.domain} to ${to.join(", ")}`, {
      event: "dmarc_forensic",
      id,
    });
  } catch (e) {
    s.deps.log.warn(`${s.hostText} DMARC failure report not sent: ${(e as Error).message}`);
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

/** Signs the message (RFC 6376 5) and returns it with its DKIM-Signature field first. */
export function sign(chunks: Uint8Array[], opts: DkimSignOptions): Uint8Array {
  return signDkim(joined(chunks), opts);
}
