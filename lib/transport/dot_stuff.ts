/**
 * Dot-stuffs a body for DATA (RFC 5321 4.5.2) and ends it with `CRLF.CRLF`, yielding large
 * chunks. A line-start dot gets another dot; a body without a final CRLF gets one. Line ends
 * are found with the native `indexOf`, so clean text is copied in bulk.
 */
export async function* dotStuff(
  body: AsyncIterable<Uint8Array>,
  chunkSize = 64 * 1024,
): AsyncGenerator<Uint8Array> {
  let out = new Uint8Array(chunkSize + 1024);
  let used = 0;
  const append = (bytes: Uint8Array) => {
    if (used + bytes.length > out.length) {
      const bigger = new Uint8Array(Math.max(out.length * 2, used + bytes.length));
      bigger.set(out.subarray(0, used));
      out = bigger;
    }
    out.set(bytes, used);
    used += bytes.length;
  };
  const DOT = new Uint8Array([0x2e]);
  let atLineStart = true;
  let last = -1; // the last two bytes of the body, to know whether it ended in CRLF
  let prev = -1;
  for await (const piece of body) {
    if (piece.length === 0) continue;
    let from = 0;
    if (atLineStart && piece[0] === 0x2e) append(DOT);
    for (
      let lf = piece.indexOf(0x0a);
      lf !== -1 && lf + 1 < piece.length;
      lf = piece.indexOf(0x0a, lf + 1)
    ) {
      if (piece[lf + 1] !== 0x2e) continue;
      append(piece.subarray(from, lf + 1));
      append(DOT);
      from = lf + 1;
    }
    append(piece.subarray(from));
    atLineStart = piece[piece.length - 1] === 0x0a;
    [prev, last] = piece.length >= 2
      ? [piece[piece.length - 2], piece[piece.length - 1]]
      : [last, piece[0]];
    if (used >= chunkSize) {
      yield out.slice(0, used);
      used = 0;
    }
  }
  const endsInCrlf = prev === 0x0d && last === 0x0a;
  append(
    new Uint8Array(endsInCrlf || last === -1 ? [0x2e, 0x0d, 0x0a] : [0x0d, 0x0a, 0x2e, 0x0d, 0x0a]),
  );
  yield out.slice(0, used);
}
