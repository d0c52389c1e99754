import type { BareNewline } from "./dot_decoder.ts";

const CR = 13;
const LF = 10;
const CRLF = new Uint8Array([CR, LF]);
const LF_ONLY = new Uint8Array([LF]);

/**
 * Applies the `bare_newline` rule to a BDAT body (RFC 3030 chunks carry no dot-stuffing, so
 * {@linkcode DotDecoder} does not apply): a CR not followed by LF or an LF without its CR
 * (RFC 5321 2.3.8) becomes CRLF (`normalize`) or is kept and flagged (`reject`; the session
 * then refuses the message), exactly as in DATA. State carries across chunks.
 *
 * @example Usage
 * ```ts
 * const f = new BareNewlineFilter("normalize");
 * const out: Uint8Array[] = [];
 * f.feed(new TextEncoder().encode("a\rb\n"), (b) => out.push(b));
 * f.end((b) => out.push(b)); // out holds "a\r\nb\r\n"
 * ```
 */
export class BareNewlineFilter {
  #normalize: boolean;
  #afterCr = false; // the last byte fed was a CR (already emitted)
  /** A bare LF was seen. */
  bareLf = false;
  /** A bare CR was seen. */
  bareCr = false;

  /** Creates a filter for one message. */
  constructor(mode: BareNewline) {
    this.#normalize = mode === "normalize";
  }

  /** Feeds a chunk; pieces (views into `input`) go to `emit` in order. */
  feed(input: Uint8Array, emit: (piece: Uint8Array) => void): void {
    let seg = 0;
    let i = 0;
    if (this.#afterCr && input.length > 0) {
      this.#afterCr = false;
      if (input[0] === LF) i = 1;
      else this.#bareCr(emit); // the chunk before ended in a bare CR
    }
    for (; i < input.length; i++) {
      const b = input[i];
      if (b !== CR && b !== LF) {
        // Skip to the next line end with native scans.
        const cr = input.indexOf(CR, i);
        const lf = input.indexOf(LF, i);
        if (cr < 0 && lf < 0) break;
        i = (cr < 0 ? lf : lf < 0 ? cr : Math.min(cr, lf)) - 1;
        continue;
      }
      if (b === CR) {
        if (i + 1 === input.length) {
          this.#afterCr = true; // its LF may start the next chunk
        } else if (input[i + 1] === LF) {
          i++;
        } else {
          if (i + 1 > seg) emit(input.subarray(seg, i + 1));
          seg = i + 1;
          this.#bareCr(emit);
        }
      } else { // an LF without its CR
        this.bareLf = true;
        if (this.#normalize) {
          if (i > seg) emit(input.subarray(seg, i));
          emit(CRLF);
          seg = i + 1;
        }
      }
    }
    if (input.length > seg) emit(input.subarray(seg));
  }

  /** Ends the message: a CR left at the very end is bare. */
  end(emit: (piece: Uint8Array) => void): void {
    if (this.#afterCr) {
      this.#afterCr = false;
      this.#bareCr(emit);
    }
  }

  // The CR was emitted already: normalizing adds its LF.
  #bareCr(emit: (piece: Uint8Array) => void): void {
    this.bareCr = true;
    if (this.#normalize) emit(LF_ONLY);
  }
}
