import { mailauth } from "./_mailauth.ts";
import type { Resolver } from "../dns/mod.ts";
import { mailauthResolver } from "./dns_adapter.ts";
import type { DkimCheck } from "./dkim_verify.ts";

/** The ARC chain validation status (RFC 8617 4.4, `cv`). */
export type ArcResult = "none" | "pass" | "fail";

/** The outcome of ARC chain validation. */
export interface ArcCheck {
  /** none (no ARC sets), pass (a valid chain) or fail. */
  result: ArcResult;
  /** The highest instance (i=) of the chain, or false without one. */
  instance: number | false;
  /** Why, for a header comment. */
  comment?: string;
  /** The `arc=...` entry for Authentication-Results (RFC 8617 10.1). */
  info: string;
}

/**
 * Validates the ARC chain of a message (RFC 8617 5.2) from what {@linkcode verifyDkim} parsed.
 *
 * @param dkim The DKIM check of the same message (it carries the parsed ARC sets).
 * @param opts The resolver for ARC keys, and the client's address for the A-R entry.
 * @returns none, pass or fail, with the chain's last instance.
 * @example Usage
 * ```ts
 * const dkim = await verifyDkim(bytes, { resolver });
 * const arc = await verifyArc(dkim, { resolver });
 * ```
 */
export async function verifyArc(
  dkim: DkimCheck,
  opts: { resolver: Resolver; ip?: string; minBitLength?: number },
): Promise<ArcCheck> {
  if (!dkim.arcData) return { result: "none", instance: false, info: "arc=none" };
  const res = await (await mailauth()).arc(dkim.arcData as never, {
    resolver: mailauthResolver(opts.resolver) as never,
    minBitLength: opts.minBitLength,
    ip: opts.ip,
  });
  const status = res.status.result;
  const result: ArcResult = status === "pass" ? "pass" : status === "none" ? "none" : "fail";
  return {
    result,
    instance: res.i ?? false,
    comment: res.status.comment,
    info: res.info ?? `arc=${result}`,
  };
}
