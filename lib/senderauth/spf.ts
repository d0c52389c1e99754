import { mailauth } from "./_mailauth.ts";
import type { Resolver } from "../dns/mod.ts";
import { mailauthResolver, type ResolveOverrides } from "./dns_adapter.ts";

/** SPF results as Exim 4.83+ names them (RFC 7208 2.6). */
export type SpfResult =
  | "pass"
  | "fail"
  | "softfail"
  | "none"
  | "neutral"
  | "permerror"
  | "temperror";

/** Exim's default `spf_guess` record, evaluated when a domain publishes none. */
export const DEFAULT_SPF_GUESS = "v=spf1 a/24 mx/24 ptr ?all";

/** What {@linkcode checkSpf} needs. */
export interface SpfCheckOptions {
  /** The client's address (after PROXY), IPv4 or IPv6. */
  ip: string;
  /** MAIL FROM address; empty for the null sender, then the HELO identity is checked. */
  sender: string;
  /** The HELO/EHLO name the client gave. */
  helo: string;
  /** Our host name, used in comments and the Received-SPF header. */
  hostname: string;
  /** The resolver to ask (from `[dns]`). */
  resolver: Resolver;
  /** Record for `guess` when the domain has none; false skips it. Default {@linkcode DEFAULT_SPF_GUESS}. */
  guess?: string | false;
  /** Milliseconds for the whole evaluation before temperror (RFC 7208 4.6.4); default 20000. */
  timeout?: number;
}

/** The outcome of one SPF check, field names as Exim's `$spf_*` variables. */
export interface SpfCheck {
  /** The result (Exim's `spf_result`). */
  result: SpfResult;
  /** The result with the guess record when the domain publishes none (Exim's `spf_guess`). */
  guess: SpfResult;
  /** The domain whose policy was checked: the sender's, or the HELO name's for the null sender. */
  domain: string;
  /** Which identity was checked (RFC 7208 2.3, 2.4). */
  identity: "mailfrom" | "helo";
  /** A one-line explanation for a header comment (Exim's `spf_header_comment`). */
  header_comment: string;
  /** Text fit for an SMTP reply: the domain's exp= text on fail, else a generic line. */
  smtp_comment: string;
  /** A complete `Received-SPF:` header field, without the final CRLF (RFC 7208 9.1). */
  received: string;
  /** The `spf=...` entry for Authentication-Results (RFC 8601 2.7.2). */
  info: string;
}

/**
 * Checks SPF (RFC 7208) for MAIL FROM, or for the HELO identity when the sender is empty,
 * with the DNS limits of RFC 7208 4.6.4 (10 lookups, 2 void lookups) and temperror on DNS
 * failures. When the domain publishes no record, `guess` is the result of the guess record.
 *
 * @param opts Client address, identities, our host name and the resolver.
 * @returns Result strings as Exim names them, comments and a Received-SPF header.
 * @example Usage
 * ```ts
 * const spf = await checkSpf({
 *   ip: "192.0.2.1", sender: "a@example.org", helo: "mx.example.org",
 *   hostname: "relay.example.net", resolver,
 * });
 * if (spf.result === "fail") console.log(spf.smtp_comment);
 * ```
 */
export async function checkSpf(opts: SpfCheckOptions): Promise<SpfCheck> {
  const first = await evaluate(opts);
  let guess = first.result;
  const record = opts.guess ?? DEFAULT_SPF_GUESS;
  if (first.result === "none" && record !== false && first.domain !== "-") {
    const overrides: ResolveOverrides = new Map([[`TXT ${first.domain}`, [[record]]]]);
    guess = (await evaluate(opts, overrides)).result;
  }
  return { ...first, guess };
}

async function evaluate(
  opts: SpfCheckOptions,
  overrides?: ResolveOverrides,
): Promise<Omit<SpfCheck, "guess">> {
  const res = await (await mailauth()).spf({
    ip: opts.ip,
    sender: opts.sender || undefined,
    helo: opts.helo,
    mta: opts.hostname,
    resolver: mailauthResolver(opts.resolver, overrides) as never,
    maxElapsedTime: opts.timeout ?? 20_000,
  });
  const result = res.status.result as SpfResult;
  const comment = res.status.comment ?? "";
  return {
    result,
    domain: res.domain,
    identity: opts.sender ? "mailfrom" : "helo",
    header_comment: comment,
    smtp_comment: smtpComment(result, comment, opts.hostname, res.explanation),
    received: res.header.replace(/\r?\n$/, ""),
    info: res.info,
  };
}

/** The reply text: the domain's own exp= on fail (RFC 7208 6.2), else our comment. */
function smtpComment(
  result: SpfResult,
  comment: string,
  hostname: string,
  explanation?: string,
): string {
  if (result === "fail" && explanation) return explanation.replace(/[^\x20-\x7e]+/g, " ");
  const prefix = `${hostname}: `;
  return comment.startsWith(prefix) ? comment.slice(prefix.length) : comment;
}

/**
 * The SPF result for any address and IP (IPv4 or IPv6), for policy expressions such as
 * `spf(sender, client_ip)`; the domain after the last `@` is checked.
 *
 * @param address An email address, or a bare domain.
 * @param ip The address to check.
 * @param opts The resolver and our host name.
 * @returns One of Exim's result names.
 * @example Usage
 * ```ts
 * await spfFor("a@example.org", "2001:db8::1", { resolver, hostname: "relay.local" }); // "pass"
 * ```
 */
export async function spfFor(
  address: string,
  ip: string,
  opts: { resolver: Resolver; hostname: string },
): Promise<SpfResult> {
  const sender = address.includes("@") ? address : `postmaster@${address}`;
  const domain = sender.slice(sender.lastIndexOf("@") + 1);
  const r = await checkSpf({ ip, sender, helo: domain, guess: false, ...opts });
  return r.result;
}
