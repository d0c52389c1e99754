import type { ByteStream } from "../tls/mod.ts";
import { SmtpClientError } from "./errors.ts";
import type { SmtpReply } from "./types.ts";

const MAX_LINE = 4096;
const MAX_LINES = 200;

/** Reads SMTP replies (RFC 5321 4.2) from a byte stream, with a deadline per reply. */
export class ReplyReader {
  #stream: ByteStream;
  #buf = new Uint8Array(16 * 1024);
  #start = 0;
  #end = 0;
  #dec = new TextDecoder();

  /** Reads from `stream`. */
  constructor(stream: ByteStream) {
    this.#stream = stream;
  }

  /** True when bytes are buffered beyond the last reply (a peer talking out of turn). */
  get buffered(): boolean {
    return this.#end > this.#start;
  }

  /** Replaces the stream (after STARTTLS); nothing may be buffered. */
  setStream(stream: ByteStream): void {
    this.#stream = stream;
    this.#start = this.#end = 0;
  }

  /**
   * Reads one (possibly multi-line) reply. On timeout the stream is closed and an error
   * thrown; a closed connection is an error too.
   */
  async read(timeoutMs: number, what: string): Promise<SmtpReply> {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      this.#stream.close();
    }, timeoutMs);
    try {
      const lines: string[] = [];
      let code = 0;
      for (;;) {
        const line = await this.#line();
        if (line === null) {
          throw new SmtpClientError(
            timedOut
              ? `Timeout waiting for the reply to ${what}`
              : `Connection closed by the peer before the reply to ${what}`,
            { connectionLost: true },
          );
        }
        const m = /^([2-5]\d\d)([ -]?)(.*)$/.exec(line);
        if (!m || (code !== 0 && Number(m[1]) !== code) || lines.length >= MAX_LINES) {
          throw new SmtpClientError(
            `Malformed reply to ${what}: ${line.slice(0, 100)}`,
            { connectionLost: true },
          );
        }
        code = Number(m[1]);
        lines.push(m[3]);
        if (m[2] !== "-") break;
      }
      return parseReplyLines(code, lines);
    } catch (e) {
      if (e instanceof SmtpClientError) throw e;
      throw new SmtpClientError(
        timedOut
          ? `Timeout waiting for the reply to ${what}`
          : `Connection error waiting for the reply to ${what}: ${(e as Error).message}`,
        { connectionLost: true, cause: e },
      );
    } finally {
      clearTimeout(timer);
    }
  }

  async #line(): Promise<string | null> {
    for (;;) {
      const lf = this.#buf.subarray(this.#start, this.#end).indexOf(10);
      if (lf >= 0) {
        const raw = this.#buf.subarray(this.#start, this.#start + lf);
        this.#start += lf + 1;
        const text = this.#dec.decode(raw);
        return text.endsWith("\r") ? text.slice(0, -1) : text;
      }
      if (this.#end - this.#start > MAX_LINE) {
        throw new SmtpClientError("Reply line too long", { connectionLost: true });
      }
      if (this.#start > 0) {
        this.#buf.copyWithin(0, this.#start, this.#end);
        this.#end -= this.#start;
        this.#start = 0;
      }
      const n = await this.#stream.read(this.#buf.subarray(this.#end));
      if (n === null || n === 0) return null;
      this.#end += n;
    }
  }
}

/** Builds a reply from its code and line texts, taking the enhanced code from the first. */
export function parseReplyLines(code: number, lines: string[]): SmtpReply {
  const m = /^([245])\.(\d{1,3})\.(\d{1,3})(?:\s+|$)/.exec(lines[0] ?? "");
  const enhanced = m && m[1] === String(code)[0] ? `${m[1]}.${m[2]}.${m[3]}` : undefined;
  const texts = lines.map((l, i) => (i === 0 && enhanced && m ? l.slice(m[0].length) : l));
  return { code, enhanced, text: texts.join(" ").trim(), lines };
}
