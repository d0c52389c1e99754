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
const BUFFER_SIZE = 64 * 1024;
/** What a session waiting for a command reads into: commands are short, and most sessions idle. */
const SMALL_SIZE = 2 * 1024;

// Large buffers are held only while a message body is read, and reused across sessions: one
// 64 KiB allocation per message would otherwise be most of the garbage a short session makes.
const pool: Uint8Array[] = [];
const POOL_MAX = 64;

/** How much a read should take: a command (small), or a message body (large). */
export type ReadSize = "small" | "large";

/**
 * The input buffer of a connection (DESIGN.md: read into one ≥ 64 KiB buffer, scan for line
 * ends, decode text only for commands). A session waiting for a command holds a 2 KiB buffer;
 * the 64 KiB one comes from a pool for message bodies and goes back once they are read, so an
 * idle connection costs little. The stream can be swapped for STARTTLS.
 */
export class InputBuffer {
  #buf: Uint8Array = new Uint8Array(SMALL_SIZE);
  #start = 0;
  #end = 0;
  #stream: ByteStream;
  #pending: Promise<number | null> | null = null;
  #pendingDone = false;
  #pendingAt = 0; // where the pending read writes
  #skipping = false; // dropping the rest of an overlong line
  #expired = false;
  /**
   * When the current wait for input must end (epoch ms; Infinity when not waiting). The
   * server's sweeper compares it with the clock and calls {@linkcode InputBuffer.expire}:
   * one timer for all sessions instead of one per read.
   */
  deadline = Infinity;

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
  startRead(size: ReadSize = "small"): void {
    if (this.#pending) return;
    this.#resize(size);
    this.#compact();
    this.#pendingDone = false;
    this.#pendingAt = this.#end;
    this.#pending = this.#stream.read(this.#buf.subarray(this.#end));
    this.#pending.then(() => (this.#pendingDone = true), () => (this.#pendingDone = true));
  }

  /** Tells whether a started read has completed (input arrived or the stream ended). */
  get readDone(): boolean {
    return this.#pending !== null && this.#pendingDone;
  }

  /** Takes the large buffer for a body, or gives it back when nothing is buffered. */
  #resize(size: ReadSize): void {
    const buffered = this.#end - this.#start;
    if (size === "large" && this.#buf.length < BUFFER_SIZE) {
      const big = pool.pop() ?? new Uint8Array(BUFFER_SIZE);
      big.set(this.#buf.subarray(this.#start, this.#end));
      this.#buf = big;
    } else if (size === "small" && buffered <= SMALL_SIZE / 2 && this.#buf.length > SMALL_SIZE) {
      const small = new Uint8Array(SMALL_SIZE);
      small.set(this.#buf.subarray(this.#start, this.#end));
      this.#giveBack();
      this.#buf = small;
    } else return;
    this.#end = buffered;
    this.#start = 0;
  }

  #giveBack(): void {
    if (this.#buf.length === BUFFER_SIZE && pool.length < POOL_MAX) pool.push(this.#buf);
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
   * Waits for more input, at most `timeoutMs` (enforced by the server's sweeper, which
   * closes the stream after {@linkcode InputBuffer.expire}); `size` "large" for a body.
   */
  async fill(timeoutMs: number, size: ReadSize = "small"): Promise<FillResult> {
    if (this.#expired) return "timeout";
    this.startRead(size);
    this.deadline = Date.now() + timeoutMs;
    let n: number | null;
    try {
      n = await this.#pending!;
    } catch {
      n = null; // reset by peer, or closed by the sweeper
    } finally {
      this.deadline = Infinity;
    }
    this.#pending = null;
    if (this.#expired) return "timeout";
    if (n === null) return "eof";
    this.#landed(n);
    return "data";
  }

  /**
   * Waits for more input for at most `ms` with a timer of its own, and leaves the read
   * pending on timeout so the session can go on (PROXY header deadline).
   */
  async fillWithin(ms: number): Promise<FillResult> {
    this.startRead();
    const pending = this.#pending!;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), ms)));
    let n: number | null | "timeout";
    try {
      n = await Promise.race([pending, late]);
    } catch {
      n = null;
    } finally {
      clearTimeout(timer);
    }
    if (n === "timeout") return "timeout";
    this.#pending = null;
    if (n === null) return "eof";
    this.#landed(n);
    return "data";
  }

  // The read wrote where the end was when it started. Input dropped meanwhile (discarded
  // after a PROXY timeout) moved the end back: the new bytes go there, the dropped stay gone.
  #landed(n: number): void {
    const at = this.#pendingAt;
    if (at !== this.#end) this.#buf.copyWithin(this.#end, at, at + n);
    this.#end += n;
  }

  /** Marks the current wait as timed out; the caller then closes the stream to end it. */
  expire(): void {
    this.#expired = true;
  }

  /** Tells whether the wait timed out. */
  get expired(): boolean {
    return this.#expired;
  }

  /** Gives the buffer back to the pool (the session is over; no read may be pending). */
  release(): void {
    if (this.#pending === null) this.#giveBack();
    this.#buf = new Uint8Array(0);
    this.#start = this.#end = 0;
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
