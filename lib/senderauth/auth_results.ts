/** Anything that carries a method entry for Authentication-Results. */
export interface AuthResultsEntry {
  /** `method=result ...` as built by the checks (SPF, DMARC, ARC). */
  info: string;
}

/** The results to put into one Authentication-Results header field. */
export interface AuthResultsInput {
  /** From checkSpf. */
  spf?: AuthResultsEntry;
  /** From verifyDkim: its `header` (all signatures). */
  dkim?: { header: string };
  /** From checkDmarc. */
  dmarc?: AuthResultsEntry;
  /** From verifyArc. */
  arc?: AuthResultsEntry;
}

/**
 * Builds an Authentication-Results header field (RFC 8601 2.2) naming our host as the
 * authserv-id, one method per line; `none` when there is nothing to report (RFC 8601 2.2).
 *
 * @param hostname Our host name (the authserv-id).
 * @param results The SPF, DKIM, DMARC and ARC outcomes to report.
 * @returns The complete header field, without the final CRLF.
 * @example Usage
 * ```ts
 * const header = authenticationResults("mx.example.net", { spf, dkim, dmarc });
 * // Authentication-Results: mx.example.net;\r\n spf=pass ...
 * ```
 */
export function authenticationResults(hostname: string, results: AuthResultsInput): string {
  const entries = [results.dkim?.header, results.spf?.info, results.arc?.info, results.dmarc?.info]
    .filter((e): e is string => typeof e === "string" && e.length > 0);
  const id = /^[A-Za-z0-9.-]+$/.test(hostname) ? hostname : `"${hostname.replace(/["\\]/g, "")}"`;
  if (entries.length === 0) return `Authentication-Results: ${id}; none`;
  return `Authentication-Results: ${id};\r\n ` + entries.join(";\r\n ");
}
