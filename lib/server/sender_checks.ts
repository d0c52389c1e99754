import {
  authenticationResults,
  checkDmarc,
  checkSpf,
  type DmarcHistoryEntry,
  dmarcHistoryEntry,
  type SpfCheck,
  verifyArc,
  verifyDkim,
} from "../senderauth/mod.ts";
import type { Spool } from "../spool/mod.ts";
import type { Session } from "./session.ts";
import { inbound } from "./sender_auth.ts";

/** Where DMARC results are kept for aggregate reports: `["dmarc", "history", ms, uuid]`. */
const HISTORY = "history";

/** Records one DMARC result for aggregate reports (the server owns the `dmarc` keyspace). */
export async function recordDmarcHistory(spool: Spool, entry: DmarcHistoryEntry): Promise<void> {
  await spool.keyspace("dmarc").set([HISTORY, entry.time, crypto.randomUUID()], entry);
}

/** The DMARC results recorded from `since` (inclusive) to `until` (exclusive), oldest first. */
export async function readDmarcHistory(
  spool: Spool,
  since: number,
  until: number,
): Promise<DmarcHistoryEntry[]> {
  const out: DmarcHistoryEntry[] = [];
  const ks = spool.keyspace("dmarc");
  for await (const e of ks.range<DmarcHistoryEntry>([HISTORY, since], [HISTORY, until])) {
    out.push(e.value);
  }
  return out;
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
    // A check that could not run is a temperror for ACLs (on_temperror), never a pass.
    s.deps.log.warn(`${s.hostText} SPF check failed: ${(e as Error).message}`);
    s.policy.setResult("spf", { result: "temperror", guess: "temperror" });
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

/**
 * DKIM, ARC and DMARC on the received message, before the data ACL: results go to `dkim.*`
 * and `dmarc.*`, and the Received-SPF and Authentication-Results headers (RFC 8601) to the
 * headers the message gets.
 */
export async function checkMessage(
  s: Session,
  spf: SpfCheck | null,
  message: () => AsyncIterable<Uint8Array>,
): Promise<void> {
  try {
    await checkMessageOrThrow(s, spf, message);
  } catch (e) {
    // The message goes on; an unfinished DMARC check is a temperror for ACLs (on_temperror).
    s.deps.log.warn(`${s.hostText} DKIM/DMARC checks failed: ${(e as Error).message}`);
    if (s.deps.senderAuth?.config.dmarc.enabled && !s.policy.context.dmarc.status) {
      s.policy.setResult("dmarc", { status: "temperror", result: "temperror" });
    }
  }
}

async function checkMessageOrThrow(
  s: Session,
  spf: SpfCheck | null,
  message: () => AsyncIterable<Uint8Array>,
): Promise<void> {
  const a = s.deps.senderAuth;
  if (!a || !inbound(s)) return;
  const c = a.config;
  if (spf) s.pendingHeaders.push(spf.received);
  if (!c.dkim.verify && !c.dmarc.enabled && !c.arc.verify) {
    if (spf) s.pendingHeaders.push(authenticationResults(s.config.server.hostname, { spf }));
    return;
  }
  const dkim = await verifyDkim(message(), {
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
    if (entry) await recordDmarcHistory(s.deps.spool, entry);
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
