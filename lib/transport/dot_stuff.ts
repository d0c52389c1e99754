/**
 * Dot-stuffs a body for DATA (RFC 5321 4.5.2) and ends it with `CRLF.CRLF`, yielding large
 * chunks. A line-start dot gets another dot; a body without a final CRLF gets one.
 */
export async function* dotStuff(
  body: AsyncIterable<Uint8Array>,
  chunkSize = 64 * 1024,
): AsyncGenerator<Uint8Array> {
  let out = new Uint8Array(chunkSize + 1024);
  let used = 0;
  let atLineStart = true;
  let last = -1; // last two bytes written, to know whether the body ended in CRLF
  let prev = -1;
  const put = (b: number) => {
    if (used === out.length) {
      const bigger = new Uint8Array(out.length * 2);
      bigger.set(out);
      out = bigger;
    }
    out[used++] = b;
  };
  for await (const piece of body) {
    let from = 0;
    for (let i = 0; i < piece.length; i++) {
      if (atLineStart && piece[i] === 0x2e) {
        // Copy what came before, then the extra dot.
        for (let j = from; j < i; j++) put(piece[j]);
        put(0x2e);
        from = i;
      }
      atLineStart = piece[i] === 0x0a;
    }
    if (used + piece.length - from > out.length) {
      const bigger = new Uint8Array(Math.max(out.length * 2, used + piece.length - from));
      bigger.set(out.subarray(0, used));
      out = bigger;
    }
    out.set(piece.subarray(from), used);
    used += piece.length - from;
    if (piece.length >= 2) [prev, last] = [piece[piece.length - 2], piece[piece.length - 1]];
    else if (piece.length === 1) [prev, last] = [last, piece[0]];
    if (used >= chunkSize) {
      yield out.slice(0, used);
      used = 0;
    }
  }
  const ending = prev === 0x0d && last === 0x0a
    ? [0x2e, 0x0d, 0x0a]
    : last === -1
    ? [0x2e, 0x0d, 0x0a]
    : [0x0d, 0x0a, 0x2e, 0x0d, 0x0a];
  for (const b of ending) put(b);
  yield out.slice(0, used);
}
