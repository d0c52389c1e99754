import { Buffer } from "node:buffer";
import { createHash, createPrivateKey, type KeyObject, sign } from "node:crypto";
import {
  BodyCanonHasher,
  canonHeader,
  CrlfNormalizer,
  splitMessage,
  toCrlf,
} from "./dkim_canon.ts";
import { DkimSignError } from "./errors.ts";

/** Signing algorithms (RFC 6376 3.3, RFC 8463 3). */
export type DkimAlgorithm = "rsa-sha256" | "ed25519-sha256";

/** Header and body canonicalisation, as in the c= tag (RFC 6376 3.4). */
export type DkimCanonicalization =
  | "relaxed/relaxed"
  | "relaxed/simple"
  | "simple/relaxed"
  | "simple/simple";

/** Header fields signed by default (RFC 6376 5.4.1), those present in the message. */
export const DEFAULT_SIGNED_HEADERS: readonly string[] = [
  "From",
  "Sender",
  "Reply-To",
  "Subject",
  "Date",
  "Message-ID",
  "To",
  "Cc",
  "MIME-Version",
  "Content-Type",
  "Content-Transfer-Encoding",
  "Content-ID",
  "Content-Description",
  "Resent-Date",
  "Resent-From",
  "Resent-Sender",
  "Resent-To",
  "Resent-Cc",
  "Resent-Message-ID",
  "In-Reply-To",
  "References",
  "List-Id",
  "List-Help",
  "List-Unsubscribe",
  "List-Subscribe",
  "List-Post",
  "List-Owner",
  "List-Archive",
];

/** What {@linkcode signDkim} needs. */
export interface DkimSignOptions {
  /** The signing domain (d=). */
  domain: string;
  /** The selector (s=); the public key is at `<selector>._domainkey.<domain>`. */
  selector: string;
  /** The private key in PEM (PKCS#8, or PKCS#1 for RSA). */
  privateKeyPem: string;
  /** Default: from the key type (rsa-sha256 or ed25519-sha256). */
  algorithm?: DkimAlgorithm;
  /** Header fields to sign when present; default {@linkcode DEFAULT_SIGNED_HEADERS}. */
  headers?: readonly string[];
  /** Fields signed once more than present, so none can be added (RFC 6376 8.15); default From. */
  oversign?: readonly string[];
  /** Default relaxed/relaxed. */
  canonicalization?: DkimCanonicalization;
  /** Signing time (t=); default now. */
  now?: Date;
}

/**
 * Signs a message with DKIM (RFC 6376; RSA or Ed25519 of RFC 8463), over-signing From so that
 * no second From can be added. Line ends are normalised to CRLF.
 *
 * @param message The message (header and body).
 * @param opts Domain, selector, key and signing choices.
 * @returns The message with a DKIM-Signature header field prepended.
 * @throws {DkimSignError} When the key cannot be read or does not fit the algorithm.
 * @example Usage
 * ```ts
 * const signed = signDkim(bytes, { domain: "example.org", selector: "s1", privateKeyPem });
 * ```
 */
export function signDkim(message: Uint8Array, opts: DkimSignOptions): Uint8Array {
  const text = toCrlf(
    Buffer.from(message.buffer, message.byteOffset, message.length).toString("latin1"),
  );
  const { fields, body } = splitMessage(text);
  const signer = prepare(opts);
  const hasher = new BodyCanonHasher(signer.bodyCanon);
  hasher.update(body);
  return latin1Bytes(signatureField(signer, fields, hasher.digest(), opts) + "\r\n" + text);
}

/** The most header bytes {@linkcode dkimSignature} reads before the body starts. */
const MAX_HEADER_BYTES = 1024 * 1024;

/**
 * The DKIM-Signature field (with its final CRLF) for a message given piece by piece, as
 * {@linkcode signDkim} would prepend it; the body is hashed as it goes and never held whole.
 *
 * @param message The message (header and body) in pieces.
 * @param opts Domain, selector, key and signing choices.
 * @returns The DKIM-Signature header field, ending in CRLF.
 * @throws {DkimSignError} When the key is unusable or the header section is over 1 MiB.
 * @example Usage
 * ```ts
 * const field = await dkimSignature(spool.body(id), { domain, selector, privateKeyPem });
 * ```
 */
export async function dkimSignature(
  message: AsyncIterable<Uint8Array>,
  opts: DkimSignOptions,
): Promise<string> {
  const signer = prepare(opts);
  const hasher = new BodyCanonHasher(signer.bodyCanon);
  const crlf = new CrlfNormalizer();
  let head = "";
  let inBody = false;
  const take = (text: string) => {
    if (inBody) return hasher.update(text);
    const from = Math.max(0, head.length - 3);
    head += text;
    const end = head.startsWith("\r\n") ? 0 : head.indexOf("\r\n\r\n", from);
    if (end < 0) {
      if (head.length > MAX_HEADER_BYTES) {
        throw new DkimSignError("Cannot sign: the header section is over 1 MiB");
      }
      return;
    }
    inBody = true;
    const rest = head.slice(end + (end === 0 ? 2 : 4));
    head = head.slice(0, end);
    hasher.update(rest);
  };
  for await (const piece of message) {
    take(crlf.push(Buffer.from(piece.buffer, piece.byteOffset, piece.length).toString("latin1")));
  }
  take(crlf.end());
  const { fields } = splitMessage(inBody ? head + "\r\n\r\n" : head);
  return signatureField(signer, fields, hasher.digest(), opts) + "\r\n";
}

interface Signer {
  key: KeyObject;
  algorithm: DkimAlgorithm;
  canonicalization: DkimCanonicalization;
  headerCanon: boolean;
  bodyCanon: boolean;
}

function prepare(opts: DkimSignOptions): Signer {
  const key = readKey(opts.privateKeyPem);
  const algorithm = opts.algorithm ??
    (key.asymmetricKeyType === "ed25519" ? "ed25519-sha256" : "rsa-sha256");
  const keyType = algorithm === "rsa-sha256" ? "rsa" : "ed25519";
  if (key.asymmetricKeyType !== keyType) {
    throw new DkimSignError(`Cannot sign with ${algorithm}: the key is ${key.asymmetricKeyType}`);
  }
  const c = opts.canonicalization ?? "relaxed/relaxed";
  const [headerCanon, bodyCanon] = c.split("/").map((x) => x === "relaxed");
  return { key, algorithm, canonicalization: c, headerCanon, bodyCanon };
}

/** The DKIM-Signature field over `fields` with body hash `bh`, without its final CRLF. */
function signatureField(
  signer: Signer,
  fields: { name: string; raw: string }[],
  bh: string,
  opts: DkimSignOptions,
): string {
  const { names, signed } = pickFields(
    fields,
    opts.headers ?? DEFAULT_SIGNED_HEADERS,
    opts.oversign ?? ["From"],
  );
  const t = Math.floor((opts.now ?? new Date()).getTime() / 1000);
  const unsigned = formatSignature([
    "v=1",
    `a=${signer.algorithm}`,
    `c=${signer.canonicalization}`,
    `d=${opts.domain}`,
    `s=${opts.selector}`,
    `t=${t}`,
    `h=${names.join(":")}`,
    `bh=${bh}`,
    "b=",
  ]);
  // RFC 6376 3.7: the signed fields, then this field with an empty b= and no final CRLF.
  const data = [
    ...signed.map((f) => canonHeader(f, signer.headerCanon) + "\r\n"),
    canonHeader(unsigned, signer.headerCanon),
  ]
    .join("");
  const b = signature(signer.algorithm, signer.key, data);
  return unsigned + fold(b);
}

function readKey(pem: string): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch (e) {
    throw new DkimSignError("Cannot read DKIM private key: not a PEM private key", { cause: e });
  }
}

/** RFC 6376 5.4.2: instances are signed bottom-up; over-signed names are listed once more. */
function pickFields(
  fields: { name: string; raw: string }[],
  wanted: readonly string[],
  oversign: readonly string[],
): { names: string[]; signed: string[] } {
  const names: string[] = [];
  const signed: string[] = [];
  const lower = [...new Set([...wanted, ...oversign].map((n) => n.toLowerCase()))];
  for (const name of lower) {
    const present = fields.filter((f) => f.name.toLowerCase() === name).reverse();
    for (const f of present) {
      names.push(name);
      signed.push(f.raw);
    }
    if (oversign.some((o) => o.toLowerCase() === name)) names.push(name); // hashes as null
  }
  return { names, signed };
}

/** RFC 8463 3: Ed25519 signs the SHA-256 hash of the data; RSA signs the data with SHA-256. */
function signature(algorithm: DkimAlgorithm, key: KeyObject, data: string): string {
  const bytes = latin1Bytes(data);
  if (algorithm === "ed25519-sha256") {
    return sign(null, createHash("sha256").update(bytes).digest(), key).toString("base64");
  }
  return sign("sha256", bytes, key).toString("base64");
}

/** Tags on lines under 78 characters where possible (RFC 5322 2.1.1). */
function formatSignature(tags: string[]): string {
  let out = "DKIM-Signature:";
  let line = out.length;
  for (const [i, tag] of tags.entries()) {
    const piece = tag + (i < tags.length - 1 ? ";" : "");
    if (line + piece.length + 1 > 76) {
      out += "\r\n\t" + piece;
      line = piece.length + 1;
    } else {
      out += " " + piece;
      line += piece.length + 1;
    }
  }
  return out;
}

function fold(b: string): string {
  return b.match(/.{1,72}/g)!.join("\r\n\t");
}

function latin1Bytes(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, "latin1"));
}
