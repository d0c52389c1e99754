/** One header field as it appears in the message, folding kept. */
export interface HeaderField {
  /** The field name as written. */
  name: string;
  /** The whole field, name to the end of its last line, without the final CRLF. */
  raw: string;
}

/** Splits a message at the first empty line into its header fields and body (RFC 5322 2.1). */
export function splitMessage(text: string): { fields: HeaderField[]; body: string } {
  const end = text.startsWith("\r\n") ? 0 : text.indexOf("\r\n\r\n");
  const head = end < 0 ? text : text.slice(0, end);
  const body = end < 0 ? "" : text.slice(end + (end === 0 ? 2 : 4));
  const fields: HeaderField[] = [];
  for (const line of head === "" ? [] : head.split("\r\n")) {
    if (/^[ \t]/.test(line) && fields.length > 0) {
      fields[fields.length - 1].raw += "\r\n" + line;
    } else {
      fields.push({ name: line.slice(0, Math.max(line.indexOf(":"), 0)).trim(), raw: line });
    }
  }
  return { fields, body };
}

/** Header canonicalisation (RFC 6376 3.4.1 simple, 3.4.2 relaxed), without the final CRLF. */
export function canonHeader(raw: string, relaxed: boolean): string {
  if (!relaxed) return raw;
  const colon = raw.indexOf(":");
  const name = raw.slice(0, colon).trim().toLowerCase();
  const value = raw.slice(colon + 1).replace(/\r\n/g, "").replace(/[ \t]+/g, " ").trim();
  return `${name}:${value}`;
}

/** Body canonicalisation (RFC 6376 3.4.3 simple, 3.4.4 relaxed). */
export function canonBody(body: string, relaxed: boolean): string {
  let lines = body.split("\r\n");
  if (relaxed) lines = lines.map((l) => l.replace(/[ \t]+/g, " ").replace(/ $/, ""));
  while (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  if (lines.length === 0) return relaxed ? "" : "\r\n";
  return lines.join("\r\n") + "\r\n";
}

/** Bare LF or CR line ends become CRLF, as on the wire (RFC 5322 2.3). */
export function toCrlf(text: string): string {
  return text.replace(/\r?\n|\r/g, "\r\n");
}
