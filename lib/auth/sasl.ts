/** Result of decoding a SASL response. */
export type SaslResult = { user: string; password: string } | { error: string };

/** Decodes base64 to UTF-8 text, or null when it is not base64. */
export function decodeBase64(text: string): string | null {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) return null;
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(
      Uint8Array.from(atob(text), (c) => c.charCodeAt(0)),
    );
  } catch {
    return null;
  }
}

/** Encodes UTF-8 text as base64. */
export function encodeBase64(text: string): string {
  return btoa(String.fromCharCode(...new TextEncoder().encode(text)));
}

/** Decodes a PLAIN response: `authzid NUL authcid NUL password` (RFC 4616 2). */
export function decodePlain(response: string): SaslResult {
  const text = decodeBase64(response);
  if (text === null) return { error: "Invalid base64 data" };
  const parts = text.split("\0");
  if (parts.length !== 3 || !parts[1] || !parts[2]) return { error: "Invalid PLAIN response" };
  const [authz, user, password] = parts;
  if (authz && authz !== user) return { error: "Authorization identity not permitted" };
  return { user, password };
}
