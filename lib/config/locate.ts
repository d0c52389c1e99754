/**
 * Finds the line of a key path in TOML source text, so schema errors can name a line.
 * A light scan, not a parser: it follows `[table]`, `[[array]]` headers and `key =` lines,
 * which is how configuration files are written. Returns the line of the longest known prefix
 * of the path, or undefined.
 */
export function locateKey(source: string, path: readonly (string | number)[]): number | undefined {
  const lines = new Map<string, number>();
  const arrayCounts = new Map<string, number>();
  let table: (string | number)[] = [];
  source.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    const lineNo = i + 1;
    let m: RegExpExecArray | null;
    if ((m = /^\[\[\s*([^\]]+?)\s*\]\]/.exec(line))) {
      const base = splitKey(m[1]);
      const id = base.join(".");
      const n = arrayCounts.get(id) ?? 0;
      arrayCounts.set(id, n + 1);
      table = [...base, n];
      lines.set(table.join("."), lineNo);
      if (!lines.has(id)) lines.set(id, lineNo); // the array as a whole: its first entry
    } else if ((m = /^\[\s*([^\]]+?)\s*\]/.exec(line))) {
      table = splitKey(m[1]);
      lines.set(table.join("."), lineNo);
    } else if ((m = /^((?:"[^"]*"|'[^']*'|[A-Za-z0-9_.\- ])+?)\s*=/.exec(line))) {
      const full = [...table, ...splitKey(m[1])].join(".");
      if (!lines.has(full)) lines.set(full, lineNo);
    }
  });
  for (let n = path.length; n > 0; n--) {
    const hit = lines.get(path.slice(0, n).join("."));
    if (hit !== undefined) return hit;
  }
  return undefined;
}

function splitKey(key: string): string[] {
  const out: string[] = [];
  for (const m of key.matchAll(/"([^"]*)"|'([^']*)'|([^.\s]+)/g)) out.push(m[1] ?? m[2] ?? m[3]);
  return out;
}

/** Formats a key path as `listen[0].address`. */
export function formatKeyPath(path: readonly PropertyKey[]): string {
  return path.map((p, i) => typeof p === "number" ? `[${p}]` : `${i ? "." : ""}${String(p)}`)
    .join("");
}
