const encoder = new TextEncoder();

/**
 * An SMTP reply (RFC 5321 4.2) with an optional enhanced status code (RFC 3463).
 * `close` asks the session to close the connection after sending it.
 */
export class Reply {
  /** Three-digit reply code. */
  readonly code: number;
  /** Enhanced status code such as `2.1.0`, or null for replies that carry none. */
  readonly enhanced: string | null;
  /** Text lines (without code), at least one. */
  readonly lines: readonly string[];
  /** Close the connection after this reply. */
  readonly close: boolean;

  /** Creates a reply; text may be one line or several. */
  constructor(code: number, enhanced: string | null, text: string | string[], close = false) {
    this.code = code;
    this.enhanced = enhanced;
    this.lines = (Array.isArray(text) ? text : [text]).map((l) => l.replace(/[\r\n]+/g, " "));
    this.close = close;
  }

  /** 4xx: the client may try again later. */
  get temporary(): boolean {
    return this.code >= 400 && this.code < 500;
  }

  /** 5xx: the client must not try again as it is. */
  get permanent(): boolean {
    return this.code >= 500;
  }

  /** A copy that also closes the connection. */
  closing(): Reply {
    return new Reply(this.code, this.enhanced, [...this.lines], true);
  }

  /** The reply as wire text, multi-line with `250-` continuation (RFC 5321 4.2.1). */
  toString(): string {
    const prefix = this.enhanced ? `${this.enhanced} ` : "";
    return this.lines.map((line, i) =>
      `${this.code}${i < this.lines.length - 1 ? "-" : " "}${prefix}${line}\r\n`
    ).join("");
  }

  /** The reply as wire bytes. */
  toBytes(): Uint8Array {
    return encoder.encode(this.toString());
  }

  /** First line without CRLF, for logs. */
  get summary(): string {
    return `${this.code} ${this.enhanced ? `${this.enhanced} ` : ""}${this.lines[0]}`;
  }
}

/**
 * Shorthand for a reply.
 *
 * @example Usage
 * ```ts
 * const ok = reply(250, "2.1.0", "Sender OK");
 * ```
 */
export function reply(code: number, enhanced: string | null, text: string | string[]): Reply {
  return new Reply(code, enhanced, text);
}
