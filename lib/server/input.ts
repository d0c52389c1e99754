import type { ByteStream } from "../tls/mod.ts";

/** Result of waiting for more input. */
export type FillResult = "data" | "eof" | "timeout";

/** A line too long for the limit was received; its bytes up to the next LF are dropped. */
export const LINE_TOO_LONG = Symbol("line too long");

/** A command line, without its line ending. */
export interface Line {
  bytes: Uint8Array;
  /** The line ended in a bare LF rather than CRLF. */
  bareLf: boolean;
}

const LF = 10;
const CR = 13;

/**
 * One reusable input buffer per connection (DESIGN.md: read into one ≥ 64 KiB buffer, scan
 * for line ends, decode text only for commands). The stream can be swapped for STARTTLS.
 */
export class InputBuffer {
  #buf = new Uint8Array(64 * 1024);
  #start = 0;
  #end = 0;
  #stream: ByteStream;
  #pending: Promise<number | null> | null = null;
  #pendingDone = false;
  #skipping = false; // dropping the rest of an overlong line

  /** Reads from `stream`. */
  constructor(stream: ByteStream) {
    this.#stream = stream;
  }

  /** Replaces the stream (after a TLS upgrade) and drops buffered input. */
  replaceStream(stream: ByteStream): void {
    this.#stream = stream;
    this.discard();
  }

  /** Drops everything buffered (pipelined input after STARTTLS). Returns the count. */
  discard(): number {
    const n = this.#end - this.#start;
    this.#start = this.#end = 0;
    return n;
  }

  /** Bytes buffered and not yet consumed. */
  get buffered(): number {
    return this.#end - this.#start;
  }

  /** A view of the buffered bytes (valid until the next fill). */
  view(): Uint8Array {
    return this.#buf.subarray(this.#start, this.#end);
  }

  /** Marks `n` buffered bytes as consumed. */
  consume(n: number): void {
    this.#start += n;
    if (this.#start === this.#end) this.#start = this.#end = 0;
  }

  /** Starts a read now without waiting for it (to see whether a client talks early). */
  startRead(): void {
    if (this.#pending) return;
    this.#compact();
    this.#pendingDone = false;
    this.#pending = this.#stream.read(this.#buf.subarray(this.#end));
    this.#pending.then(() => (this.#pendingDone = true), () => (this.#pendingDone = true));
  }

  /** Tells whether a started read has completed (input arrived or the stream ended). */
  get readDone(): boolean {
    return this.#pending !== null && this.#pendingDone;
  }

  #compact(): void {
    if (this.#start > 0) {
      this.#buf.copyWithin(0, this.#start, this.#end);
      this.#end -= this.#start;
      this.#start = 0;
    }
    if (this.#end === this.#buf.length) { // full: grow (a long line in progress)
      const bigger = new Uint8Array(this.#buf.length * 2);
      bigger.set(this.#buf);
      this.#buf = bigger;
    }
  }

  /**
   * Waits for more input, at most `timeoutMs`. A timed-out read stays pending; the caller
   * closes the connection then.
   */
  async fill(timeoutMs: number): Promise<FillResult> {
    this.startRead();
    const pending = this.#pending!;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((
      r,
    ) => (timer = setTimeout(() => r("timeout"), timeoutMs)));
    let n: number | null | "timeout";
    try {
      n = await Promise.race([pending, timeout]);
    } catch {
      n = null; // reset by peer
    } finally {
      clearTimeout(timer);
    }
    if (n === "timeout") return "timeout";
    this.#pending = null;
    if (n === null) return "eof";
    this.#end += n;
    return "data";
  }

  /**
   * Takes the next complete line. Returns null when no complete line is buffered, or
   * {@linkcode LINE_TOO_LONG} once for a line over `max` bytes (the rest of it is skipped).
   */
  takeLine(max: number): Line | null | typeof LINE_TOO_LONG {
    const view = this.#buf.subarray(this.#start, this.#end);
    const lf = view.indexOf(LF);
    if (this.#skipping) {
      if (lf < 0) {
        this.consume(view.length);
        return null;
      }
      this.consume(lf + 1);
      this.#skipping = false;
      return this.takeLine(max);
    }
    if (lf < 0) {
      if (view.length > max) {
        this.consume(view.length);
        this.#skipping = true;
        return LINE_TOO_LONG;
      }
      return null;
    }
    if (lf + 1 > max) {
      this.consume(lf + 1);
      return LINE_TOO_LONG;
    }
    const bareLf = lf === 0 || view[lf - 1] !== CR;
    const bytes = view.slice(0, bareLf ? lf : lf - 1);
    this.consume(lf + 1);
    return { bytes, bareLf };
  }
}
