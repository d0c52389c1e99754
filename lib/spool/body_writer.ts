import { CHUNK_SIZE } from "./spool.ts";

/**
 * Collects a message body straight into spool-sized chunks, copying each byte once (the
 * pieces it is given may be views into a reused input buffer). Stops collecting past `max`
 * bytes but keeps counting, so the session can read to the end and refuse with 552.
 */
export class BodyWriter {
  #chunks: Uint8Array[] = [];
  // The first chunk starts small and grows: most messages are far below CHUNK_SIZE.
  #current = new Uint8Array(16 * 1024);
  #used = 0;
  #max: number;
  /** Bytes written so far (including any past the maximum). */
  size = 0;

  /** Creates a writer that keeps at most `max` bytes. */
  constructor(max: number = Infinity) {
    this.#max = max;
  }

  /** Went past the maximum size. */
  get tooBig(): boolean {
    return this.size > this.#max;
  }

  /** Appends bytes (copied). */
  write(piece: Uint8Array): void {
    this.size += piece.length;
    if (this.tooBig) return;
    let off = 0;
    while (off < piece.length) {
      if (this.#used === this.#current.length && this.#current.length < CHUNK_SIZE) {
        const grown = new Uint8Array(Math.min(CHUNK_SIZE, this.#current.length * 4));
        grown.set(this.#current);
        this.#current = grown;
      }
      const n = Math.min(this.#current.length - this.#used, piece.length - off);
      this.#current.set(piece.subarray(off, off + n), this.#used);
      this.#used += n;
      off += n;
      if (this.#used === CHUNK_SIZE) {
        this.#chunks.push(this.#current);
        this.#current = new Uint8Array(CHUNK_SIZE);
        this.#used = 0;
      }
    }
  }

  /** The chunks written: every one full but the last. */
  chunks(): Uint8Array[] {
    return this.#used > 0
      ? [...this.#chunks, this.#current.subarray(0, this.#used)]
      : [...this.#chunks];
  }
}
