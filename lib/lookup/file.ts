import { type Cidr, cidrContains, isIP, parseCidr } from "../net/mod.ts";
import { type Lookup, LookupError, type LookupValue } from "./types.ts";

/** How keys in a file table match: exactly, with `*.domain` and `*` wildcards, or as networks. */
export type FileLookupMode = "exact" | "wildcard" | "ip";

/** Options of {@linkcode FileLookup}. */
export interface FileLookupOptions {
  /** Table name for messages. */
  name: string;
  /** Path of the `key: value` file. */
  path: string;
  /** Matching mode; default `wildcard`. */
  mode?: FileLookupMode;
  /** Milliseconds between mtime checks (0: check on every lookup). Default 1000. */
  checkInterval?: number;
}

interface ParsedFile {
  exact: Map<string, string>;
  nets: { net: Cidr; value: string }[];
}

/**
 * Splits an Exim lsearch style text into entries: `key: value` or `key value` (in IP mode the key ends at `: ` or white space, for IPv6), a key may
 * be quoted, `#` starts a comment line, a line starting with white space continues the
 * previous value. Keys are lower-cased (matching is case-insensitive).
 *
 * @throws {LookupError} naming the line of a quoted key that is not closed
 */
export function parseLsearch(
  text: string,
  source = "file",
  ipKeys = false,
): [string, string, number][] {
  const out: [string, string, number][] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (/^\s*(#|$)/.test(line)) continue;
    if (/^\s/.test(line)) {
      const last = out.at(-1);
      if (last) last[1] = (last[1] ? last[1] + " " : "") + line.trim();
      continue;
    }
    const m = line.startsWith('"')
      ? /^"((?:[^"\\]|\\.)*)"\s*:?\s*(.*)$/.exec(line)
      : ipKeys
      ? /^(\S+?)(?::\s+|:$|\s+|$)(.*)$/.exec(line) // 2001:db8::/32: value
      : /^([^\s:]+)\s*:?\s*(.*)$/.exec(line);
    if (!m) throw new LookupError(`Cannot parse ${source} line ${i + 1}: unclosed quoted key`);
    const key = line.startsWith('"') ? m[1].replace(/\\(.)/g, "$1") : m[1];
    out.push([key.toLowerCase(), m[2].trim(), i + 1]);
  }
  return out;
}

/**
 * A text file table (Exim `lsearch`, `wildlsearch`, `iplsearch`), re-read when its
 * modification time changes. A missing or malformed file at start is an error; a later
 * failed reload keeps the last good contents.
 */
export class FileLookup implements Lookup {
  readonly name: string;
  readonly driver = "file";
  readonly #path: string;
  readonly #mode: FileLookupMode;
  readonly #interval: number;
  #data: ParsedFile = { exact: new Map(), nets: [] };
  #stamp = "";
  #checked = 0;

  private constructor(options: FileLookupOptions) {
    this.name = options.name;
    this.#path = options.path;
    this.#mode = options.mode ?? "wildcard";
    this.#interval = options.checkInterval ?? 1000;
  }

  /**
   * Reads the file and returns the table.
   *
   * @throws {LookupError} when the file is missing or malformed
   */
  static async open(options: FileLookupOptions): Promise<FileLookup> {
    const table = new FileLookup(options);
    await table.#load();
    return table;
  }

  /** Looks the key up by the table's mode. */
  async get(key: string): Promise<LookupValue> {
    await this.#maybeReload();
    if (this.#mode === "ip") return this.#matchIP(key);
    const k = key.toLowerCase();
    const exact = this.#data.exact.get(k);
    if (exact !== undefined || this.#mode === "exact") return exact ?? null;
    return this.#matchWildcard(k);
  }

  /** The value split on commas (`a, b, c`), or null when absent. */
  async members(key: string): Promise<string[] | null> {
    const v = await this.get(key);
    return v === null ? null : v.split(",").map((s) => s.trim()).filter((s) => s !== "");
  }

  /** Nothing to release. */
  close(): void {}

  // `*.example.org` matches any name under example.org (not example.org itself), the
  // longest suffix first; `*` matches everything.
  #matchWildcard(k: string): LookupValue {
    for (let dot = k.indexOf("."); dot >= 0; dot = k.indexOf(".", dot + 1)) {
      const v = this.#data.exact.get("*" + k.slice(dot));
      if (v !== undefined) return v;
    }
    return this.#data.exact.get("*") ?? null;
  }

  // First network in file order that contains the address, as Exim's iplsearch.
  #matchIP(key: string): LookupValue {
    if (!isIP(key)) return null;
    for (const { net, value } of this.#data.nets) if (cidrContains(net, key)) return value;
    return null;
  }

  async #maybeReload(): Promise<void> {
    const now = Date.now();
    if (this.#interval > 0 && now - this.#checked < this.#interval) return;
    this.#checked = now;
    try {
      const st = await Deno.stat(this.#path);
      if (fileStamp(st) !== this.#stamp) await this.#load();
    } catch {
      // Keep serving the last good contents while the file is being replaced or is broken.
    }
  }

  async #load(): Promise<void> {
    let text: string;
    let stamp: string;
    try {
      stamp = fileStamp(await Deno.stat(this.#path));
      text = await Deno.readTextFile(this.#path);
    } catch (e) {
      throw new LookupError(
        `Cannot read lookup ${this.name} file ${this.#path}: ${(e as Error).message}`,
        { cause: e },
      );
    }
    this.#data = this.#parse(text);
    this.#stamp = stamp;
    this.#checked = Date.now();
  }

  #parse(text: string): ParsedFile {
    const data: ParsedFile = { exact: new Map(), nets: [] };
    for (
      const [key, value, line] of parseLsearch(
        text,
        `lookup ${this.name} file ${this.#path}`,
        this.#mode === "ip",
      )
    ) {
      if (this.#mode === "ip") {
        try {
          data.nets.push({ net: parseCidr(key), value });
        } catch {
          throw new LookupError(
            `Cannot parse lookup ${this.name} file ${this.#path} line ${line}: "${key}" is not an address or network`,
          );
        }
      } else if (!data.exact.has(key)) data.exact.set(key, value);
    }
    return data;
  }
}

// Modification time alone has millisecond precision here; size and inode catch a quick
// rewrite or an atomic rename within the same millisecond.
function fileStamp(st: Deno.FileInfo): string {
  return `${st.mtime?.getTime() ?? 0}/${st.size}/${st.ino ?? 0}`;
}
