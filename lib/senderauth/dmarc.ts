import { mailauth } from "./_mailauth.ts";
import type { Resolver } from "../dns/mod.ts";
import { mailauthResolver } from "./dns_adapter.ts";
import type { DkimSignatureResult } from "./dkim_verify.ts";
import type { SpfResult } from "./spf.ts";

/** DMARC outcomes as Exim's `$dmarc_status` names them. */
export type DmarcStatus =
  | "accept"
  | "reject"
  | "quarantine"
  | "none"
  | "norecord"
  | "nofrom"
  | "temperror";

/** What {@linkcode checkDmarc} needs: the From header and the SPF and DKIM outcomes. */
export interface DmarcCheckOptions {
  /** The resolver for policy lookups (from `[dns]`). */
  resolver: Resolver;
  /** Addresses (or domains) of the From header field(s), e.g. `DkimCheck.headerFrom`. */
  headerFrom: string | string[];
  /** How many From header fields the message has (more than one: nofrom). Default 1. */
  fromFields?: number;
  /** The SPF outcome of MAIL FROM (or HELO); only a pass can align. */
  spf?: { result: SpfResult; domain: string };
  /** The DKIM outcomes; only passing signatures can align. */
  dkim?: DkimSignatureResult[];
}

/** The DMARC verdict (RFC 7489 6.6), field names as Exim's `$dmarc_*` variables. */
export interface DmarcCheck {
  /** accept (aligned pass), reject/quarantine/none (fail, by policy), norecord, nofrom, temperror. */
  status: DmarcStatus;
  /** The Authentication-Results verdict: pass, fail, none or temperror. */
  result: "pass" | "fail" | "none" | "temperror";
  /** The From domain (RFC 5322.From). */
  domain: string;
  /** The domain whose record gave the policy (the From domain or its organisational domain). */
  used_domain: string;
  /** The policy that applies to this message (p=, sp= or np=; one level lower with t=y). */
  policy: "none" | "quarantine" | "reject" | "";
  /** The aligned SPF and DKIM domains, or false. */
  alignment: { spf: string | false; dkim: string | false };
  /** The `dmarc=...` entry for Authentication-Results. */
  info: string;
  /** The record as published, when one was found. */
  record?: string;
  /** The published policy, for aggregate reports (RFC 7489 7.2.1.1 policy_published). */
  published?: PublishedPolicy;
}

/** The policy as published (RFC 7489 6.3), alignment modes as `r` or `s`. */
export interface PublishedPolicy {
  /** p= */
  p: "none" | "quarantine" | "reject";
  /** sp= (p= when absent) */
  sp: "none" | "quarantine" | "reject";
  /** adkim= */
  adkim: "r" | "s";
  /** aspf= */
  aspf: "r" | "s";
  /** pct= (100 when absent) */
  pct: number;
}

/**
 * Checks DMARC (RFC 7489, with the DNS tree walk of its successor for the policy domain and
 * the public suffix list for relaxed alignment): is the From domain aligned with a passing
 * SPF or DKIM identifier, and what does its policy ask for if not.
 *
 * @param opts The From addresses, the SPF and DKIM outcomes and the resolver.
 * @returns The status for ACLs (`dmarc.status`), the policy domain and the A-R entry.
 * @example Usage
 * ```ts
 * const dmarc = await checkDmarc({ resolver, headerFrom: dkim.headerFrom, spf, dkim: dkim.results });
 * if (dmarc.status === "reject") console.log("policy asks to reject");
 * ```
 */
export async function checkDmarc(opts: DmarcCheckOptions): Promise<DmarcCheck> {
  const res = await (await mailauth()).dmarc({
    headerFrom: opts.headerFrom,
    fromFields: opts.fromFields ?? 1,
    spfDomains: opts.spf?.result === "pass" ? [opts.spf.domain] : [],
    dkimDomains: (opts.dkim ?? []).filter((d) => d.result === "pass").map((d) => ({
      domain: d.domain,
      aligned: d.aligned,
    })),
    resolver: mailauthResolver(opts.resolver) as never,
  });
  if (!res) {
    return {
      status: "nofrom",
      result: "none",
      domain: "",
      used_domain: "",
      policy: "",
      alignment: { spf: false, dkim: false },
      info: "dmarc=none (no single author domain)",
    };
  }
  const result = res.status.result as DmarcCheck["result"];
  const policy = (res.policy ?? "") as DmarcCheck["policy"];
  return {
    status: statusOf(result, policy),
    result,
    domain: res.status.header?.from ?? res.domain,
    used_domain: res.policyDomain ?? res.domain,
    policy,
    alignment: {
      spf: res.alignment?.spf.result ?? false,
      dkim: res.alignment?.dkim.result ?? false,
    },
    info: res.info,
    record: res.rr,
    published: res.p
      ? {
        p: res.p as PublishedPolicy["p"],
        sp: (res.sp || res.p) as PublishedPolicy["sp"],
        adkim: res.alignment?.dkim.strict ? "s" : "r",
        aspf: res.alignment?.spf.strict ? "s" : "r",
        pct: Number(/(?:^|;)\s*pct\s*=\s*(\d+)/i.exec(res.rr ?? "")?.[1] ?? 100),
      }
      : undefined,
  };
}

/** RFC 7489 6.6.4: pass is accepted; a failure asks for what the policy says. */
function statusOf(result: DmarcCheck["result"], policy: DmarcCheck["policy"]): DmarcStatus {
  switch (result) {
    case "pass":
      return "accept";
    case "temperror":
      return "temperror";
    case "fail":
      return policy || "none";
    default:
      return "norecord";
  }
}
