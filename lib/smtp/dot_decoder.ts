const CR = 13;
const LF = 10;
const DOT = 46;
const CRLF = new Uint8Array([CR, LF]);
const CR_ONLY = new Uint8Array([CR]);
const LF_ONLY = new Uint8Array([LF]);
const DOT_ONLY = new Uint8Array([DOT]);

/** What to do with a bare CR or bare LF in DATA (RFC 5321 2.3.8 forbids them). */
export type BareNewline = "normalize" | "reject";

// States of the decoder (RFC 5321 4.5.2 transparency, 4.1.1.4 end of data).
const LINE_START = 0; // after CRLF, or at the very start of DATA
const MID_LINE = 1;
const SAW_CR = 2; // a CR was emitted; its LF (or not) comes next
const DOT_AT_START = 3; // a line began with "."; the dot is held back
const DOT_CR = 4; // "." + CR at line start; both held back

/**
 * Decodes the DATA stream incrementally: removes dot-stuffing (RFC 5321 4.5.2) and finds the
 * end of data. Only CRLF "." CRLF ends DATA: a bare LF or CR never starts or ends a line for
 * that purpose, so `\n.\n` or `\r.\r` cannot smuggle a second message (2023 SMTP smuggling).
 * Bare CR and LF are turned into CRLF (`normalize`) or kept and flagged (`reject`; the session
 * then refuses the message).
 *
 * @example Usage
 * ```ts
 * const d = new DotDecoder("normalize");
 * const out: Uint8Array[] = [];
 * const end = d.feed(new TextEncoder().encode("Hi\r\n..dot\r\n.\r\n"), (b) => out.push(b));
 * // end === 15; out holds "Hi\r\n.dot\r\n"
 * ```
 */
export class DotDecoder {
  #state = LINE_START;
  #mode: BareNewline;
  /** A bare LF was seen. */
  bareLf = false;
  /** A bare CR was seen. */
  bareCr = false;

  /** Creates a decoder for one message. */
  constructor(mode: BareNewline) {
    this.#mode = mode;
  }

  /**
   * Feeds bytes. Decoded pieces go to `emit` (they may be views into `input`: copy them if
   * `input` is reused). Returns the offset just after the terminating `.CRLF`, or -1 when the
   * end has not been seen yet and all input was consumed.
   */
  feed(input: Uint8Array, emit: (piece: Uint8Array) => void): number {
    const normalize = this.#mode === "normalize";
    let seg = 0; // start of the pending run of input bytes to emit unchanged
    // Positions of the next LF and CR at or after i (-1: none left), each found once, so
    // hostile input full of bare CRs still costs linear time.
    let lf = -2;
    let cr = -2;
    for (let i = 0; i < input.length; i++) {
      if (this.#state === MID_LINE) {
        // Fast path: jump over the rest of an ordinary line ending in CRLF with native scans.
        if (lf !== -1 && lf < i) lf = input.indexOf(LF, i);
        if (cr !== -1 && cr < i) cr = input.indexOf(CR, i);
        if (lf < 0 && cr < 0) break; // no line end left in this input: all of it is data
        if (lf > i && cr === lf - 1) {
          i = lf;
          this.#state = LINE_START;
          continue;
        }
      }
      const b = input[i];
      const state = this.#state;
      if (state === SAW_CR) {
        if (b === LF) {
          this.#state = LINE_START;
          continue;
        }
        this.bareCr = true; // the CR before this byte had no LF
        if (normalize) {
          if (i > seg) emit(input.subarray(seg, i));
          emit(LF_ONLY);
          seg = i;
        }
      } else if (state === LINE_START && b === DOT) {
        if (i > seg) emit(input.subarray(seg, i));
        seg = i + 1; // hold the dot back
        this.#state = DOT_AT_START;
        continue;
      } else if (state === DOT_AT_START) {
        if (b === CR) {
          seg = i + 1; // hold the CR back too
          this.#state = DOT_CR;
          continue;
        }
        if (b !== LF) {
          seg = i; // leading dot removed (transparency); the rest is data
          this.#state = MID_LINE;
          continue;
        }
        emit(DOT_ONLY); // "." then a bare LF: not an end of data; keep the dot
        seg = i;
      } else if (state === DOT_CR) {
        if (b === LF) {
          this.#state = LINE_START;
          return i + 1; // CRLF "." CRLF
        }
        this.bareCr = true; // "." CR x: the CR is bare, the dot was stuffing
        emit(normalize ? CRLF : CR_ONLY);
        seg = i;
      }
      // An ordinary byte inside a line.
      if (b === CR) {
        this.#state = SAW_CR;
      } else if (b === LF) {
        this.bareLf = true;
        if (normalize) {
          if (i > seg) emit(input.subarray(seg, i));
          emit(CRLF);
          seg = i + 1;
        }
        this.#state = MID_LINE;
      } else {
        this.#state = MID_LINE;
      }
    }
    if (input.length > seg) emit(input.subarray(seg));
    return -1;
  }
}
