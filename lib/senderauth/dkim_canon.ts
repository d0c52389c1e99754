import { createHash } from "node:crypto";

/** One header field as it appears in the message, folding kept. */
export interface HeaderField {
  /** The field name as written. */
  name: string;
  /** The whole field, name to the end of its last line, without the final CRLF. */
  raw: string;
}

/** Splits a message at the first empty line into its header fields and body (RFC 5322 2.1). */
export function splitMessage(text: string): { fields: HeaderField[]; body: string } {
  const end = text.startsWith("\r\n") ? 0 : text.indexOf("\r\n\r\n");
  const head = end < 0 ? text : text.slice(0, end);
  const body = end < 0 ? "" : text.slice(end + (end === 0 ? 2 : 4));
  const fields: HeaderField[] = [];
  for (const line of head === "" ? [] : head.split("\r\n")) {
    if (/^[ \t]/.test(line) && fields.length > 0) {
      fields[fields.length - 1].raw += "\r\n" + line;
    } else {
      fields.push({ name: line.slice(0, Math.max(line.indexOf(":"), 0)).trim(), raw: line });
    }
  }
  return { fields, body };
}

/** Header canonicalisation (RFC 6376 3.4.1 simple, 3.4.2 relaxed), without the final CRLF. */
export function canonHeader(raw: string, relaxed: boolean): string {
  if (!relaxed) return raw;
  const colon = raw.indexOf(":");
  const name = raw.slice(0, colon).trim().toLowerCase();
  const value = raw.slice(colon + 1).replace(/\r\n/g, "").replace(/[ \t]+/g, " ").trim();
  return `${name}:${value}`;
}

/** Body canonicalisation (RFC 6376 3.4.3 simple, 3.4.4 relaxed). */
export function canonBody(body: string, relaxed: boolean): string {
  let lines = body.split("\r\n");
  if (relaxed) lines = lines.map((l) => l.replace(/[ \t]+/g, " ").replace(/ $/, ""));
  while (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  if (lines.length === 0) return relaxed ? "" : "\r\n";
  return lines.join("\r\n") + "\r\n";
}

/** Bare LF or CR line ends become CRLF, as on the wire (RFC 5322 2.3). */
export function toCrlf(text: string): string {
  return text.replace(/\r?\n|\r/g, "\r\n");
}

/** Bare LF or CR line ends become CRLF in text given piece by piece (a CR at a piece's end waits). */
export class CrlfNormalizer {
  #cr = false;

  /** The next piece, normalised (latin1 text). */
  push(text: string): string {
    if (this.#cr) text = "\r" + text;
    this.#cr = text.endsWith("\r");
    if (this.#cr) text = text.slice(0, -1);
    return toCrlf(text);
  }

  /** What is left at the end. */
  end(): string {
    const t = this.#cr ? "\r\n" : "";
    this.#cr = false;
    return t;
  }
}

/**
 * The SHA-256 body hash (bh=) of {@linkcode canonBody} computed over CRLF text given piece by
 * piece, holding back only empty lines and (relaxed) one trailing space: a large body is never
 * held whole.
 */
export class BodyCanonHasher {
  #hash = createHash("sha256");
  #relaxed: boolean;
  #carry = ""; // (relaxed) a trailing space of the line in progress
  #blank = 0; // empty lines held back: trailing ones are not hashed (RFC 6376 3.4.3, 3.4.4)
  #inLine = false; // part of the current line is hashed
  #any = false; // a line was hashed

  /** A hasher for relaxed or simple body canonicalisation. */
  constructor(relaxed: boolean) {
    this.#relaxed = relaxed;
  }

  /** Adds body text (latin1, CRLF line ends; a CRLF may be split between pieces). */
  update(text: string): void {
    const parts = (this.#carry + text).split("\r\n");
    this.#carry = "";
    const last = parts.pop()!;
    for (const p of parts) this.#endLine(p);
    let p = this.#relaxed ? last.replace(/[ \t]+/g, " ") : last;
    if (p.endsWith("\r")) { // half a CRLF
      this.#carry = "\r";
      p = p.slice(0, -1);
    }
    if (this.#relaxed && p.endsWith(" ")) {
      this.#carry = " " + this.#carry;
      p = p.slice(0, -1);
    }
    if (p !== "") this.#emit(p);
  }

  /** The base64 hash of everything given. */
  digest(): string {
    this.#endLine(this.#carry);
    if (!this.#any && !this.#relaxed) this.#hash.update("\r\n");
    return this.#hash.digest("base64");
  }

  #emit(text: string): void {
    if (!this.#inLine) {
      if (this.#blank > 0) this.#hash.update("\r\n".repeat(this.#blank), "latin1");
      this.#blank = 0;
      this.#inLine = true;
    }
    this.#hash.update(text, "latin1");
  }

  #endLine(line: string): void {
    let p = line;
    if (this.#relaxed) p = p.replace(/[ \t]+/g, " ").replace(/ $/, "");
    if (p !== "") this.#emit(p);
    if (this.#inLine) {
      this.#hash.update("\r\n");
      this.#inLine = false;
      this.#any = true;
    } else this.#blank++;
  }
}
