import { Buffer } from "node:buffer";
import { createSeal } from "mailauth";
import { DkimSignError } from "./errors.ts";
import type { ArcResult } from "./arc_verify.ts";

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
  const input = Buffer.from(message.buffer, message.byteOffset, message.length);
  const authResults = opts.authResults.replace(/^Authentication-Results:\s*/i, "");
  const res = await createSeal(input, {
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
  const head = Buffer.from(res.headers.join("\r\n") + "\r\n");
  const out = new Uint8Array(head.length + message.length);
  out.set(head, 0);
  out.set(message, head.length);
  return out;
}
