import { Buffer } from "node:buffer";
import { Readable } from "node:stream";
import { mailauth } from "./_mailauth.ts";
import type { Resolver } from "../dns/mod.ts";
import { mailauthResolver } from "./dns_adapter.ts";

/** Per-signature DKIM results (RFC 8601 2.7.1; `policy` for a refused algorithm or key). */
export type DkimResult =
  | "pass"
  | "fail"
  | "neutral"
  | "none"
  | "policy"
  | "temperror"
  | "permerror";

/** One verified signature, or the single `none` entry of an unsigned message. */
export interface DkimSignatureResult {
  /** The signing domain (d=); empty for `none`. */
  domain: string;
  /** The selector (s=); empty for `none`. */
  selector: string;
  /** The algorithm (a=), such as rsa-sha256 or ed25519-sha256. */
  algorithm: string;
  /** The verdict for this signature. */
  result: DkimResult;
  /** Why, for a header comment (e.g. "bad signature", "no key"). */
  comment?: string;
  /** The signing domain when it aligns (relaxed, by the public suffix list) with From, else false. */
  aligned: string | false;
  /** The key record is in test mode (t=y, RFC 6376 3.6.1). */
  testing: boolean;
  /** The `dkim=...` entry for Authentication-Results. */
  info: string;
}

/** All signatures of a message. */
export interface DkimCheck {
  /** One entry per DKIM-Signature (top first); a single `none` entry when there is none. */
  results: DkimSignatureResult[];
  /** Addresses in the From header field(s). */
  headerFrom: string[];
  /** How many From header fields the message has. */
  fromFields: number;
  /** The `dkim=...` entries for Authentication-Results, joined by ";\r\n ". */
  header: string;
  /** The ARC chain found while parsing, for {@linkcode verifyArc}; opaque. */
  readonly arcData: unknown;
}

/** What {@linkcode verifyDkim} needs besides the message. */
export interface DkimVerifyOptions {
  /** The resolver to fetch keys with (from `[dns]`). */
  resolver: Resolver;
  /** Smallest RSA key accepted, in bits (default 1024, RFC 8301). */
  minBitLength?: number;
  /** The time to check x= against (default now). */
  now?: Date;
}

/**
 * Verifies every DKIM signature of a message (RFC 6376; rsa-sha256 and ed25519-sha256 of
 * RFC 8463), fetching keys with our resolver.
 *
 * @param message The message as received (headers and body, CRLF line ends), whole or in
 *   pieces (read as a stream: a large message is never held whole).
 * @param opts The resolver and limits.
 * @returns One result per signature, the From addresses and Authentication-Results entries.
 * @example Usage
 * ```ts
 * const dkim = await verifyDkim(bytes, { resolver });
 * const passed = dkim.results.filter((r) => r.result === "pass").map((r) => r.domain);
 * ```
 */
export async function verifyDkim(
  message: Uint8Array | AsyncIterable<Uint8Array>,
  opts: DkimVerifyOptions,
): Promise<DkimCheck> {
  const res = await (await mailauth()).dkimVerify(mailauthInput(message), {
    resolver: mailauthResolver(opts.resolver) as never,
    minBitLength: opts.minBitLength,
    curTime: opts.now,
  });
  const results = res.results.map((r): DkimSignatureResult => ({
    domain: r.signingDomain ?? "",
    selector: r.selector ?? "",
    algorithm: r.algo ?? "",
    result: (r.status.result === "temperr" ? "temperror" : r.status.result) as DkimResult,
    comment: r.status.comment,
    aligned: r.status.aligned ?? false,
    testing: r.status.testing === true,
    info: r.info,
  }));
  return {
    results,
    headerFrom: res.headerFrom,
    fromFields: res.fromFields,
    header: results.map((r) => r.info).join(";\r\n "),
    arcData: res.arc,
  };
}

/** A message for mailauth: a Buffer, or a stream that reads the pieces one at a time. */
export function mailauthInput(message: Uint8Array | AsyncIterable<Uint8Array>): Buffer | Readable {
  if (message instanceof Uint8Array) {
    return Buffer.from(message.buffer, message.byteOffset, message.length);
  }
  async function* buffers(): AsyncGenerator<Buffer> {
    for await (const c of message as AsyncIterable<Uint8Array>) {
      yield Buffer.from(c.buffer, c.byteOffset, c.length);
    }
  }
  return Readable.from(buffers(), { objectMode: false, highWaterMark: 64 * 1024 });
}
