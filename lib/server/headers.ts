const decoder = new TextDecoder("utf-8");

/**
 * The header section of a message (RFC 5322 2.1): everything before the first empty line,
 * read from the start of the body pieces, at most `limit` bytes.
 */
export function headerSection(pieces: readonly Uint8Array[], limit = 64 * 1024): string {
  let text = "";
  for (const p of pieces) {
    text += decoder.decode(p.subarray(0, Math.max(0, limit - text.length)), { stream: true });
    const end = text.indexOf("\r\n\r\n");
    if (end >= 0) return text.slice(0, end + 2);
    if (text.startsWith("\r\n")) return "";
    if (text.length >= limit) break;
  }
  return text;
}

/** Every header by lower-case name, values unfolded, in order (for ACL conditions). */
export function headerMap(section: string): Record<string, string[]> {
  const map: Record<string, string[]> = {};
  for (const m of section.matchAll(/^([!-9;-~]+)[ \t]*:(.*(?:\r?\n[ \t].*)*)/gm)) {
    (map[m[1].toLowerCase()] ??= []).push(m[2].replace(/\r?\n/g, "").trim());
  }
  return map;
}

/** The unfolded value of the first header with this name, or null (RFC 5322 2.2.3). */
export function headerValue(section: string, name: string): string | null {
  const re = new RegExp(`^${name}[ \\t]*:(.*(?:\\r?\\n[ \\t].*)*)`, "im");
  const m = re.exec(section);
  return m ? m[1].replace(/\r?\n/g, "").trim() : null;
}
