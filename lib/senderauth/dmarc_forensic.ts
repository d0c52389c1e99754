import type { Resolver } from "../dns/mod.ts";
import { mailauthResolver } from "./dns_adapter.ts";
import type { DmarcCheck } from "./dmarc.ts";

/** What {@linkcode forensicReport} needs. */
export interface ForensicReportOptions {
  /** The report's From address (`dmarc.forensic_sender`). */
  from: string;
  /** Recipients: addresses from ruf= that {@linkcode allowedReportAddresses} let through. */
  to: string[];
  /** Our host name (for Message-ID and the text). */
  hostname: string;
  /** The failed message, as received (only its header is included). */
  message: Uint8Array;
  /** The client's address. */
  ip: string;
  /** MAIL FROM of the failed message. */
  mailFrom: string;
  /** The DMARC check that failed. */
  dmarc: DmarcCheck;
  /** Our Authentication-Results header for the message. */
  authResults: string;
  /** Arrival time; default now. */
  arrival?: Date;
}

/**
 * The mailto: addresses of rua=/ruf= URIs that may receive reports (RFC 7489 7.1): those in
 * the policy domain's own organisation, and others whose domain publishes
 * `<policy domain>._report._dmarc.<their domain>` with `v=DMARC1`.
 *
 * @param policyDomain The domain whose record named the URIs (`DmarcCheck.used_domain`).
 * @param uris The URIs (see `reportUris`).
 * @param resolver For the external-destination check.
 * @returns Bare addresses that may be sent to.
 */
export async function allowedReportAddresses(
  policyDomain: string,
  uris: readonly string[],
  resolver: Resolver,
): Promise<string[]> {
  const resolve = mailauthResolver(resolver);
  const out: string[] = [];
  for (const uri of uris) {
    const m = /^mailto:([^?]+@([^?@]+))$/i.exec(uri.trim());
    if (!m) continue;
    const address = decodeURIComponent(m[1]);
    const domain = m[2].toLowerCase();
    if (sameOrganisation(domain, policyDomain.toLowerCase())) {
      out.push(address);
      continue;
    }
    try {
      const txt = await resolve(`${policyDomain}._report._dmarc.${domain}`, "TXT") as string[][];
      if (txt.some((parts) => /^v=DMARC1\s*(;|$)/.test(parts.join("")))) out.push(address);
    } catch { /* no authorisation record, or DNS failed: do not send */ }
  }
  return out;
}

/** Same domain or one below the other (a cheap stand-in for comparing organisational domains). */
function sameOrganisation(a: string, b: string): boolean {
  return a === b || a.endsWith("." + b) || b.endsWith("." + a);
}

/**
 * Builds a DMARC failure report (RFC 7489 7.3, ARF of RFC 5965 with the auth-failure type
 * of RFC 6591) carrying the failed message's header only.
 *
 * @param opts Sender and recipients of the report, the failed message and the checks.
 * @returns The report message (CRLF line ends), ready to queue.
 */
export function forensicReport(opts: ForensicReportOptions): Uint8Array {
  const arrival = opts.arrival ?? new Date();
  const boundary = `=_dmarc_${crypto.randomUUID()}`;
  const domain = opts.dmarc.domain;
  const aligned = [
    ...(opts.dmarc.alignment.dkim ? ["dkim"] : []),
    ...(opts.dmarc.alignment.spf ? ["spf"] : []),
  ];
  const header = headerOf(opts.message);
  const lines = [
    `From: ${opts.from}`,
    `To: ${opts.to.join(", ")}`,
    `Subject: DMARC failure report for ${domain} from ${opts.ip}`,
    `Date: ${rfc5322Date(new Date())}`,
    `Message-ID: <${crypto.randomUUID()}@${opts.hostname}>`,
    "MIME-Version: 1.0",
    `Content-Type: multipart/report; report-type=feedback-report; boundary="${boundary}"`,
    "",
    `--${boundary}`,
    "Content-Type: text/plain; charset=us-ascii",
    "",
    `A message from ${opts.ip} claiming to be from ${domain} failed DMARC at ${opts.hostname}.`,
    "",
    `--${boundary}`,
    "Content-Type: message/feedback-report",
    "",
    "Feedback-Type: auth-failure",
    "User-Agent: edge-relay",
    "Version: 1",
    `Original-Mail-From: <${opts.mailFrom}>`,
    `Arrival-Date: ${rfc5322Date(arrival)}`,
    `Source-IP: ${opts.ip}`,
    `Reported-Domain: ${domain}`,
    opts.authResults.replace(/\r?\n(?=[ \t])/g, "\r\n"),
    "Auth-Failure: dmarc",
    `Identity-Alignment: ${aligned.length > 0 ? aligned.join(", ") : "none"}`,
    "",
    `--${boundary}`,
    "Content-Type: text/rfc822-headers",
    "",
    header,
    `--${boundary}--`,
    "",
  ];
  return new TextEncoder().encode(lines.join("\r\n"));
}

/** The header section (up to the first empty line), line ends as CRLF. */
function headerOf(message: Uint8Array): string {
  let end = message.length;
  for (let i = 0; i + 1 < message.length; i++) {
    if (message[i] === 10 && (message[i + 1] === 10 || message[i + 1] === 13)) {
      end = i;
      break;
    }
  }
  const head = new TextDecoder().decode(message.subarray(0, end)).replace(/\r$/, "");
  return head.replace(/\r?\n/g, "\r\n") + "\r\n";
}

function rfc5322Date(d: Date): string {
  return d.toUTCString().replace(/GMT$/, "+0000");
}
