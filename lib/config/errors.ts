/** A configuration file (or value) is wrong; the message names the file, line and key. */
export class ConfigError extends Error {
  /** The file, when the error came from one. */
  readonly file?: string;
  /** 1-based line of the offending key, when known. */
  readonly line?: number;
  /** Dotted key path, for example `listen[0].address`. */
  readonly key?: string;

  /** Creates the error; `detail` is the problem and hint, location fields are optional. */
  constructor(detail: string, where: { file?: string; line?: number; key?: string } = {}) {
    const loc = [where.file, where.line].filter((x) => x !== undefined).join(":");
    const key = where.key ? `${where.key}: ` : "";
    super(`${loc ? `${loc}: ` : ""}${key}${detail}`);
    this.name = "ConfigError";
    this.file = where.file;
    this.line = where.line;
    this.key = where.key;
  }
}
