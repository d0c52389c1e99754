/** An address or network could not be parsed. */
export class AddressError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "AddressError";
  }
}

/** Parses dotted-quad IPv4 into 4 bytes, or null. */
export function parseIPv4(text: string): Uint8Array | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    if (!/^\d{1,3}$/.test(parts[i])) return null;
    const n = Number(parts[i]);
    if (n > 255) return null;
    out[i] = n;
  }
  return out;
}

/** Parses an IPv6 address (with `::` and an embedded IPv4 tail) into 16 bytes, or null. */
export function parseIPv6(text: string): Uint8Array | null {
  const zone = text.indexOf("%");
  if (zone >= 0) text = text.slice(0, zone);
  if (text.length < 2 || text.split("::").length > 2) return null;
  const words: number[] = [];
  const [head, tail] = text.includes("::") ? text.split("::") : [text, null];
  const parseWords = (s: string): number[] | null => {
    if (s === "") return [];
    const out: number[] = [];
    const pieces = s.split(":");
    for (let i = 0; i < pieces.length; i++) {
      const p = pieces[i];
      if (i === pieces.length - 1 && p.includes(".")) {
        const v4 = parseIPv4(p);
        if (!v4) return null;
        out.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(p)) out.push(parseInt(p, 16));
      else return null;
    }
    return out;
  };
  const h = parseWords(head);
  if (!h) return null;
  if (tail === null) {
    if (h.length !== 8) return null;
    words.push(...h);
  } else {
    const t = parseWords(tail);
    if (!t || h.length + t.length > 7) return null;
    words.push(...h, ...new Array(8 - h.length - t.length).fill(0), ...t);
  }
  const out = new Uint8Array(16);
  words.forEach((w, i) => {
    out[2 * i] = w >> 8;
    out[2 * i + 1] = w & 0xff;
  });
  return out;
}

/** Parses an IPv4 or IPv6 address into 4 or 16 bytes, or null when it is neither. */
export function parseIP(text: string): Uint8Array | null {
  return text.includes(":") ? parseIPv6(text) : parseIPv4(text);
}

/** Tells whether the text is an IPv4 or IPv6 address. */
export function isIP(text: string): boolean {
  return parseIP(text) !== null;
}

/** Formats 4 or 16 bytes as an address (IPv6 in RFC 5952 compressed form). */
export function formatIP(bytes: Uint8Array): string {
  if (bytes.length === 4) return bytes.join(".");
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push((bytes[i] << 8) | bytes[i + 1]);
  // RFC 5952 4.2.3: shorten the longest run of two or more zero words.
  let best = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) [best, bestLen] = [i, j - i];
    i = j;
  }
  const hex = words.map((w) => w.toString(16));
  if (best < 0) return hex.join(":");
  return hex.slice(0, best).join(":") + "::" + hex.slice(best + bestLen).join(":");
}

/** Normalises an address: IPv4-mapped IPv6 (`::ffff:1.2.3.4`) becomes IPv4; IPv6 compressed. */
export function normalizeIP(text: string): string {
  const b = parseIP(text);
  if (!b) return text;
  if (b.length === 16 && b.slice(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff) {
    return formatIP(b.slice(12));
  }
  return formatIP(b);
}
