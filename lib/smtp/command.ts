/** A command line split into its verb (upper case) and the rest. */
export interface Command {
  /** Upper-case verb, for example `MAIL`. */
  verb: string;
  /** Everything after the verb and one space, unchanged. */
  arg: string;
}

/**
 * Splits a command line (without CRLF) into verb and argument (RFC 5321 4.1.1).
 * Returns null when the line has no verb of 1 to 12 letters.
 *
 * @example Usage
 * ```ts
 * parseCommand("mail FROM:<a@b>"); // { verb: "MAIL", arg: "FROM:<a@b>" }
 * ```
 */
export function parseCommand(line: string): Command | null {
  const m = /^([A-Za-z]{1,12})(?:[ \t]+(.*?))?[ \t]*$/s.exec(line);
  if (!m) return null;
  return { verb: m[1].toUpperCase(), arg: m[2] ?? "" };
}
