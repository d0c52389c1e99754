import type { DkimCheck } from "./dkim_verify.ts";
import type { DmarcCheck, PublishedPolicy } from "./dmarc.ts";
import type { SpfCheck } from "./spf.ts";

/** What one message contributes to aggregate reports (RFC 7489 7.2.1.1, one `record` row). */
export interface DmarcHistoryEntry {
  /** When the message arrived, in milliseconds since the epoch. */
  time: number;
  /** The client's address. */
  sourceIp: string;
  /** The From domain. */
  headerFrom: string;
  /** The MAIL FROM domain (the HELO name for the null sender). */
  envelopeFrom: string;
  /** The domain whose record applied: reports are grouped and sent per policy domain. */
  policyDomain: string;
  /** The policy as published. */
  published: PublishedPolicy;
  /** Aggregate report addresses (rua=, RFC 7489 6.3). */
  rua: string[];
  /** What was done with the message. */
  disposition: "none" | "quarantine" | "reject";
  /** DKIM gave an aligned pass. */
  dkimAligned: boolean;
  /** SPF gave an aligned pass. */
  spfAligned: boolean;
  /** Every DKIM signature's outcome. */
  dkim: { domain: string; selector: string; result: string }[];
  /** The SPF outcome. */
  spf: { domain: string; scope: "mfrom" | "helo"; result: string };
}

/** Who reports, and for which interval (RFC 7489 7.2.1.1 report_metadata). */
export interface ReportMetadata {
  /** Our organisation's name. */
  orgName: string;
  /** Contact address for the report. */
  email: string;
  /** Our host name, used in file names. */
  receiver: string;
  /** Unique per report; the policy domain is appended. */
  reportId: string;
  /** Start of the interval. */
  begin: Date;
  /** End of the interval. */
  end: Date;
}

/** One aggregate report for one policy domain. */
export interface AggregateReport {
  /** The policy domain the report is about. */
  domain: string;
  /** Where to send it (mailto: addresses from rua=). */
  rua: string[];
  /** `receiver!domain!begin!end.xml` (RFC 7489 7.2.1.1); add `.gz` when compressed. */
  filename: string;
  /** The report document. */
  xml: string;
}

/** The rua= and ruf= URIs of a DMARC record (RFC 7489 6.3), size limits dropped. */
export function reportUris(record: string | undefined): { rua: string[]; ruf: string[] } {
  const tag = (name: string) =>
    (new RegExp(`(?:^|;)\\s*${name}\\s*=\\s*([^;]*)`, "i").exec(record ?? "")?.[1] ?? "")
      .split(",").map((u) => u.trim().replace(/![0-9]+[kmgt]?$/i, "")).filter((u) => u !== "");
  return { rua: tag("rua"), ruf: tag("ruf") };
}

/**
 * The history entry of one message, or null when no policy applied (norecord, nofrom,
 * temperror): only messages under a published policy are reported.
 *
 * @param args The client address, the three checks and what was done (default: what the policy asked).
 * @returns An entry to store for aggregate reports.
 */
export function dmarcHistoryEntry(args: {
  ip: string;
  spf: SpfCheck;
  dkim: DkimCheck;
  dmarc: DmarcCheck;
  disposition?: DmarcHistoryEntry["disposition"];
  now?: Date;
}): DmarcHistoryEntry | null {
  const { dmarc, spf, dkim } = args;
  if (!dmarc.published) return null;
  const asked = dmarc.status === "reject" || dmarc.status === "quarantine" ? dmarc.status : "none";
  return {
    time: (args.now ?? new Date()).getTime(),
    sourceIp: args.ip,
    headerFrom: dmarc.domain,
    envelopeFrom: spf.domain,
    policyDomain: dmarc.used_domain,
    published: dmarc.published,
    rua: reportUris(dmarc.record).rua,
    disposition: args.disposition ?? asked,
    dkimAligned: dmarc.alignment.dkim !== false,
    spfAligned: dmarc.alignment.spf !== false,
    dkim: dkim.results.filter((r) => r.domain !== "").map((r) => ({
      domain: r.domain,
      selector: r.selector,
      result: r.result,
    })),
    spf: {
      domain: spf.domain,
      scope: spf.identity === "helo" ? "helo" : "mfrom",
      result: spf.result,
    },
  };
}

/**
 * Builds RFC 7489 aggregate reports (Appendix C schema) from history entries, one per policy
 * domain, identical rows counted together.
 *
 * @param entries History entries of the interval.
 * @param meta Who reports, and the interval.
 * @returns One report per policy domain, sorted by domain.
 */
export function aggregateReports(
  entries: readonly DmarcHistoryEntry[],
  meta: ReportMetadata,
): AggregateReport[] {
  const byDomain = Map.groupBy(entries, (e) => e.policyDomain.toLowerCase());
  const begin = Math.floor(meta.begin.getTime() / 1000);
  const end = Math.floor(meta.end.getTime() / 1000);
  return [...byDomain.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([domain, list]) => {
    const latest = list[list.length - 1];
    const rows = Map.groupBy(list, (e) => JSON.stringify(rowKey(e)));
    const xml = [
      `<?xml version="1.0" encoding="UTF-8"?>`,
      `<feedback>`,
      `  <report_metadata>`,
      `    <org_name>${esc(meta.orgName)}</org_name>`,
      `    <email>${esc(meta.email)}</email>`,
      `    <report_id>${esc(`${meta.reportId}.${domain}`)}</report_id>`,
      `    <date_range><begin>${begin}</begin><end>${end}</end></date_range>`,
      `  </report_metadata>`,
      policyXml(domain, latest.published),
      ...[...rows.values()].map((same) => recordXml(same[0], same.length)),
      `</feedback>`,
      ``,
    ].join("\n");
    return {
      domain,
      rua: latest.rua,
      filename: `${meta.receiver}!${domain}!${begin}!${end}.xml`,
      xml,
    };
  });
}

/** Gzips a report for mailing (RFC 7489 7.2.1.1). */
export async function gzipText(text: string): Promise<Uint8Array> {
  const stream = new Blob([text]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function rowKey(e: DmarcHistoryEntry): unknown[] {
  return [
    e.sourceIp,
    e.disposition,
    e.dkimAligned,
    e.spfAligned,
    e.headerFrom,
    e.envelopeFrom,
    e.dkim,
    e.spf,
  ];
}

function policyXml(domain: string, p: PublishedPolicy): string {
  return [
    `  <policy_published>`,
    `    <domain>${esc(domain)}</domain>`,
    `    <adkim>${p.adkim}</adkim>`,
    `    <aspf>${p.aspf}</aspf>`,
    `    <p>${p.p}</p>`,
    `    <sp>${p.sp}</sp>`,
    `    <pct>${p.pct}</pct>`,
    `  </policy_published>`,
  ].join("\n");
}

function recordXml(e: DmarcHistoryEntry, count: number): string {
  const dkim = e.dkim.map((d) =>
    `      <dkim><domain>${esc(d.domain)}</domain><selector>${esc(d.selector)}</selector>` +
    `<result>${esc(dkimResult(d.result))}</result></dkim>`
  );
  return [
    `  <record>`,
    `    <row>`,
    `      <source_ip>${esc(e.sourceIp)}</source_ip>`,
    `      <count>${count}</count>`,
    `      <policy_evaluated><disposition>${e.disposition}</disposition>` +
    `<dkim>${e.dkimAligned ? "pass" : "fail"}</dkim><spf>${e.spfAligned ? "pass" : "fail"}</spf>` +
    `</policy_evaluated>`,
    `    </row>`,
    `    <identifiers><header_from>${esc(e.headerFrom)}</header_from>` +
    `<envelope_from>${esc(e.envelopeFrom)}</envelope_from></identifiers>`,
    `    <auth_results>`,
    ...dkim,
    `      <spf><domain>${esc(e.spf.domain)}</domain><scope>${e.spf.scope}</scope>` +
    `<result>${esc(e.spf.result)}</result></spf>`,
    `    </auth_results>`,
    `  </record>`,
  ].join("\n");
}

/** The report schema's DKIMResultType has no "policy". */
function dkimResult(r: string): string {
  return r === "policy" ? "fail" : r;
}

function esc(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
