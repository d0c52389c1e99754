/**
 * Sender authentication on mailauth with our own resolver: SPF (RFC 7208), DKIM verify and
 * sign (RFC 6376, 8463), DMARC (RFC 7489), ARC verify (RFC 8617), Authentication-Results
 * (RFC 8601) and SRS.
 *
 * @module
 */
export { DkimSignError, DnsLookupError, SrsError, type SrsFailure } from "./errors.ts";
export { mailauthResolver, type ResolveFunction, type ResolveOverrides } from "./dns_adapter.ts";
export {
  checkSpf,
  DEFAULT_SPF_GUESS,
  type SpfCheck,
  type SpfCheckOptions,
  spfFor,
  type SpfResult,
} from "./spf.ts";
export {
  type DkimCheck,
  type DkimResult,
  type DkimSignatureResult,
  type DkimVerifyOptions,
  verifyDkim,
} from "./dkim_verify.ts";
export {
  DEFAULT_SIGNED_HEADERS,
  type DkimAlgorithm,
  type DkimCanonicalization,
  dkimSignature,
  type DkimSignOptions,
  signDkim,
} from "./dkim_sign.ts";
export { checkDmarc, type DmarcCheck, type DmarcCheckOptions, type DmarcStatus } from "./dmarc.ts";
export { type ArcCheck, type ArcResult, verifyArc } from "./arc_verify.ts";
export {
  authenticationResults,
  type AuthResultsEntry,
  type AuthResultsInput,
} from "./auth_results.ts";
export { isSrs, srsForward, type SrsOptions, srsReverse } from "./srs.ts";
export {
  type AggregateReport,
  aggregateReports,
  type DmarcHistoryEntry,
  dmarcHistoryEntry,
  gzipText,
  type ReportMetadata,
  reportUris,
} from "./dmarc_report.ts";
export { type ArcSealOptions, arcSet, sealArc } from "./arc_seal.ts";
export {
  allowedReportAddresses,
  forensicReport,
  type ForensicReportOptions,
} from "./dmarc_forensic.ts";
