/** Decodes xtext (RFC 3461 4): `+XX` is a hex-coded byte; returns null when malformed. */
export function decodeXtext(text: string): string | null {
  if (!/^(?:[\x21-\x2a\x2c-\x3c\x3e-\x7e]|\+[0-9A-F]{2})*$/.test(text)) return null;
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    if (text[i] === "+") {
      bytes.push(parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(text.charCodeAt(i));
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}

/** Encodes a string as xtext (RFC 3461 4): `+`, `=`, controls and non-ASCII become `+XX`. */
export function encodeXtext(text: string): string {
  let out = "";
  for (const b of new TextEncoder().encode(text)) {
    out += b < 0x21 || b > 0x7e || b === 0x2b || b === 0x3d
      ? "+" + b.toString(16).toUpperCase().padStart(2, "0")
      : String.fromCharCode(b);
  }
  return out;
}
