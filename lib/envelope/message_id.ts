const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"; // Crockford base32: sorts like its value

let lastMs = 0;
let seq = 0;

function base32(value: number, width: number): string {
  let out = "";
  for (let i = 0; i < width; i++) {
    out = ALPHABET[value % 32] + out;
    value = Math.floor(value / 32);
  }
  return out;
}

/**
 * Makes a message id that sorts by arrival time and is unique across restarts: 10 characters
 * of milliseconds, 3 of a per-millisecond sequence and 4 random ones (Crockford base32).
 *
 * @example Usage
 * ```ts
 * const id = newMessageId(); // "01KAR5Q3ZB0004F7Q"
 * ```
 */
export function newMessageId(now: number = Date.now()): string {
  if (now <= lastMs) {
    now = lastMs;
    seq++;
    if (seq >= 32 ** 3) { // sequence exhausted within one millisecond: borrow the next one
      now = ++lastMs;
      seq = 0;
    }
  } else {
    lastMs = now;
    seq = 0;
  }
  const random = crypto.getRandomValues(new Uint32Array(1))[0] % 32 ** 4;
  return base32(now, 10) + base32(seq, 3) + base32(random, 4);
}

/** Tells whether a string has the shape of a message id made by {@linkcode newMessageId}. */
export function isMessageId(id: string): boolean {
  return /^[0-9A-HJKMNP-TV-Z]{17}$/.test(id);
}
