/** Log levels in order of importance. */
export type LogLevel = "debug" | "info" | "warn" | "error";

const LEVELS: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** Where and how log lines are written. */
export interface LoggerOptions {
  /** `text`: Exim-style main log lines; `json`: one JSON object a line. */
  format: "text" | "json";
  /** File to append to; empty or undefined writes to stdout (errors to stderr). */
  file?: string;
  /** Lowest level written. */
  level: LogLevel;
}

/** Fields attached to a log line (become JSON keys in json format). */
export type LogFields = Record<string, unknown>;

const encoder = new TextEncoder();

function timestamp(d: Date): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ` +
    `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/**
 * The main log. Text lines look like Exim's (`2026-11-23 11:22:33 ID <= sender H=...`), so
 * admins can grep them the same way; JSON lines carry the same text as `msg` plus fields.
 * Writes are synchronous so that no line is lost on a crash.
 *
 * @example Usage
 * ```ts
 * const log = new Logger({ format: "text", level: "info" });
 * log.info("01KAR5Q3ZB0004F7Q <= a@example.org H=[127.0.0.1]", { event: "arrival" });
 * ```
 */
export class Logger {
  #opts: LoggerOptions;
  #file: Deno.FsFile | null = null;
  #failing = false;
  /** Lines that could not be written (disk full, file gone ...) since the logger started. */
  dropped = 0;
  /** Lines also go to these listeners (tests read the log this way). */
  readonly listeners: ((line: string, level: LogLevel, fields: LogFields) => void)[] = [];

  /** Creates a logger; opens the file, if any, for appending. */
  constructor(opts: LoggerOptions) {
    this.#opts = opts;
    if (opts.file) {
      this.#file = Deno.openSync(opts.file, { append: true, create: true, write: true });
    }
  }

  /** Writes a line at a level. */
  log(level: LogLevel, text: string, fields: LogFields = {}): void {
    for (const l of this.listeners) l(text, level, fields);
    if (LEVELS[level] < LEVELS[this.#opts.level]) return;
    const now = new Date();
    const line = this.#opts.format === "json"
      ? JSON.stringify({ ts: now.toISOString(), level, msg: text, ...fields })
      : `${timestamp(now)} ${escapeControls(text)}`;
    this.#write(encoder.encode(line + "\n"), LEVELS[level] >= LEVELS.warn);
  }

  /**
   * Writes one line. Logging never ends the process: a line that cannot be written (a full
   * log filesystem, a closed stdout) is dropped and counted, and stderr gets one line when
   * writing starts failing and one when it works again.
   */
  #write(bytes: Uint8Array, important: boolean): void {
    try {
      const out = this.#file ?? (important ? Deno.stderr : Deno.stdout);
      let off = 0;
      while (off < bytes.length) off += out.writeSync(bytes.subarray(off));
    } catch (e) {
      this.dropped++;
      if (!this.#failing) {
        this.#failing = true;
        this.#notice(
          `cannot write the log (${(e as Error).message}); dropping lines until it works`,
        );
      }
      return;
    }
    if (this.#failing) {
      this.#failing = false;
      this.#notice(`the log works again; ${this.dropped} line(s) were dropped in all`);
    }
  }

  #notice(text: string): void {
    try {
      Deno.stderr.writeSync(encoder.encode(`${timestamp(new Date())} relay: ${text}\n`));
    } catch { /* stderr is gone too: nothing more to do */ }
  }

  /** Debug detail (connections, TLS handshakes). */
  debug(text: string, fields?: LogFields): void {
    this.log("debug", text, fields);
  }
  /** Normal events: arrivals, deliveries, rejections. */
  info(text: string, fields?: LogFields): void {
    this.log("info", text, fields);
  }
  /** Something an admin should look at. */
  warn(text: string, fields?: LogFields): void {
    this.log("warn", text, fields);
  }
  /** Failures. */
  error(text: string, fields?: LogFields): void {
    this.log("error", text, fields);
  }

  /** Closes the log file, if any. */
  close(): void {
    this.#file?.close();
    this.#file = null;
  }
}

// C0 and C1 controls, DEL, and the Unicode line and paragraph separators.
const CONTROLS = /[\p{Cc}\u2028\u2029]/gu;
const NAMED: Record<string, string> = { "\r": "\\r", "\n": "\\n", "\t": "\\t" };

/**
 * Escapes control characters in a text log line (`\r`, `\n`, `\t`, others as `\xHH` or
 * `\uHHHH`): text from clients can neither forge a line in `tail` nor send escape
 * sequences to the admin's terminal.
 */
export function escapeControls(text: string): string {
  if (!CONTROLS.test(text)) return text;
  CONTROLS.lastIndex = 0;
  return text.replace(CONTROLS, (c) => {
    const code = c.charCodeAt(0);
    return NAMED[c] ??
      (code < 0x100 ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16)}`);
  });
}

/** Quotes a value for a text log field when it has spaces or is empty (Exim style). */
export function logValue(value: string): string {
  const clean = value.replace(/\p{Cc}/gu, "?");
  return clean === "" || /[\s"]/.test(clean) ? JSON.stringify(clean) : clean;
}
