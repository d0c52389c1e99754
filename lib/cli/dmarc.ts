import type { Config } from "../config/mod.ts";
import { parseDuration } from "../config/mod.ts";
import { type AggregateReport, aggregateReports, gzipText } from "../senderauth/mod.ts";
import { readDmarcHistory } from "../server/mod.ts";
import type { Spool } from "../spool/mod.ts";
import { localEnvelope, newMessageId } from "../envelope/mod.ts";
import { parseCommandArgs, UsageError } from "./args.ts";
import { configFrom, openSpool, out } from "./context.ts";

/** Usage of `relay dmarc`. */
export const DMARC_HELP =
  `Usage: relay dmarc report [--config FILE] [--since 24h] [--out DIR] [--send]

Builds RFC 7489 aggregate reports from the DMARC results the relay recorded ([dmarc]
history = true), one gzipped XML file per reporting domain, written to DIR (default: the
current folder). --send also queues each report as a message to the domain's rua= mailto:
addresses (delivered by the running relay, or by "relay queue run --once").
Run it once a day with --since 24h.`;

/** The reports for the history recorded since `sinceMs`. */
export async function dmarcReports(
  spool: Spool,
  config: Config,
  sinceMs: number,
  now = Date.now(),
): Promise<AggregateReport[]> {
  const entries = await readDmarcHistory(spool, sinceMs, now + 1);
  const host = config.server.hostname;
  return aggregateReports(entries, {
    orgName: host,
    email: reportSender(config),
    receiver: host,
    reportId: `${host}.${now}`,
    begin: new Date(sinceMs),
    end: new Date(now),
  });
}

function reportSender(config: Config): string {
  return config.dmarc.forensic_sender || `postmaster@${config.server.hostname}`;
}

/** Queues a report to its rua= mailto: addresses (RFC 7489 7.2.1.1). Returns the id or null. */
export async function queueReport(
  spool: Spool,
  config: Config,
  report: AggregateReport,
  gz: Uint8Array,
): Promise<string | null> {
  const to = report.rua.filter((u) => /^mailto:/i.test(u)).map((u) =>
    decodeURIComponent(u.slice(7).split("!")[0])
  );
  if (to.length === 0) return null;
  const from = reportSender(config);
  const id = newMessageId();
  const b64 = btoa(String.fromCharCode(...gz)).replace(/.{76}/g, "$&\r\n");
  const text = [
    `From: ${from}`,
    `To: ${to.join(", ")}`,
    `Subject: Report Domain: ${report.domain} Submitter: ${config.server.hostname} Report-ID: <${id}>`,
    `Message-ID: <${id}@${config.server.hostname}>`,
    `Date: ${new Date().toUTCString().replace("GMT", "+0000")}`,
    "MIME-Version: 1.0",
    `Content-Type: application/gzip; name="${report.filename}.gz"`,
    "Content-Transfer-Encoding: base64",
    `Content-Disposition: attachment; filename="${report.filename}.gz"`,
    "",
    b64,
    "",
  ].join("\r\n");
  const envelope = localEnvelope({
    id,
    sender: from,
    recipients: to,
    hostname: config.server.hostname,
    origin: "dmarc-report",
  });

  await spool.store(envelope, [new TextEncoder().encode(text)]);
  return id;
}

/** `relay dmarc report`. */
export async function dmarcCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (!sub || sub === "--help" || sub === "-h") {
    out(DMARC_HELP);
    return sub ? 0 : 2;
  }
  if (sub !== "report") throw new UsageError(`unknown dmarc command "${sub}" (report)`);
  const { values, help } = parseCommandArgs(rest, {
    config: { type: "string", short: "c" },
    since: { type: "string" },
    out: { type: "string" },
    send: { type: "boolean" },
  }, { min: 0, max: 0 });
  if (help) {
    out(DMARC_HELP);
    return 0;
  }
  let since: number;
  try {
    since = parseDuration(typeof values.since === "string" ? values.since : "24h");
  } catch (e) {
    throw new UsageError(`--since: ${(e as Error).message}`);
  }
  const config = await configFrom(values.config);
  const dir = typeof values.out === "string" ? values.out : ".";
  const spool = await openSpool(config);
  try {
    const reports = await dmarcReports(spool, config, Date.now() - since);
    if (reports.length === 0) out("no DMARC results recorded in that time");
    for (const r of reports) {
      const gz = await gzipText(r.xml);
      const path = `${dir}/${r.filename}.gz`;
      await Deno.writeFile(path, gz);
      const queued = values.send ? await queueReport(spool, config, r, gz) : null;
      out(
        `${path} (${r.domain}; rua: ${r.rua.join(", ") || "none"}${
          queued ? `; queued ${queued}` : ""
        })`,
      );
    }
  } finally {
    spool.close();
  }
  return 0;
}
