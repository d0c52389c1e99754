import { mailauth } from "./_mailauth.ts";
import { DkimSignError } from "./errors.ts";
import type { ArcResult } from "./arc_verify.ts";
import { mailauthInput } from "./dkim_verify.ts";

/** What {@linkcode sealArc} needs. */
export interface ArcSealOptions {
  /** Our sealing domain (d=). */
  domain: string;
  /** Selector of the sealing key. */
  selector: string;
  /** PEM private key (RSA or Ed25519). */
  privateKeyPem: string;
  /** Default: from the key type. */
  algorithm?: "rsa-sha256" | "ed25519-sha256";
  /** The chain's state on arrival (`verifyArc(...).result`); a failed chain is sealed cv=fail. */
  cv: ArcResult;
  /** Our Authentication-Results for the message (as built by `authenticationResults`). */
  authResults: string;
  /** Signing time; default now. */
  now?: Date;
}

/**
 * Adds an ARC set (ARC-Authentication-Results, ARC-Message-Signature, ARC-Seal; RFC 8617 4.1)
 * when forwarding, so that the next hop can trust our authentication results.
 *
 * @param message The message as we forward it.
 * @param opts The sealing key, the chain state on arrival and our A-R header.
 * @returns The message with the three ARC header fields prepended.
 * @throws {DkimSignError} When the key is unusable or the chain is full (50 sets).
 * @example Usage
 * ```ts
 * const sealed = await sealArc(bytes, { domain, selector, privateKeyPem, cv: arc.result, authResults });
 * ```
 */
export async function sealArc(message: Uint8Array, opts: ArcSealOptions): Promise<Uint8Array> {
  const head = new TextEncoder().encode(await arcSet(message, opts));
  const out = new Uint8Array(head.length + message.length);
  out.set(head, 0);
  out.set(message, head.length);
  return out;
}

/**
 * The ARC set {@linkcode sealArc} would prepend (three header fields, each ending in CRLF),
 * for a message whole or in pieces (read as a stream, never held whole).
 *
 * @param message The message as we forward it.
 * @param opts The sealing key, the chain state on arrival and our A-R header.
 * @returns ARC-Seal, ARC-Message-Signature and ARC-Authentication-Results, CRLF-terminated.
 * @throws {DkimSignError} When the key is unusable or the chain is full (50 sets).
 * @example Usage
 * ```ts
 * const fields = await arcSet(spool.body(id), { domain, selector, privateKeyPem, cv, authResults });
 * ```
 */
export async function arcSet(
  message: Uint8Array | AsyncIterable<Uint8Array>,
  opts: ArcSealOptions,
): Promise<string> {
  const authResults = opts.authResults.replace(/^Authentication-Results:\s*/i, "");
  const res = await (await mailauth()).createSeal(mailauthInput(message), {
    seal: {
      signingDomain: opts.domain,
      selector: opts.selector,
      privateKey: opts.privateKeyPem,
      algorithm: opts.algorithm,
      cv: opts.cv,
      authResults,
      signTime: opts.now ?? new Date(),
    },
  } as never);
  const first = res.errors?.[0] as { err?: Error & { code?: string } } | undefined;
  if (first || res.headers.length === 0) {
    const err = first?.err;
    throw new DkimSignError(`Cannot seal with ARC: ${err?.message ?? "no seal made"}`, {
      code: err?.code,
      cause: err,
    });
  }
  return res.headers.join("\r\n") + "\r\n";
}
