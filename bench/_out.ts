/** Output and small formatting helpers for the benchmarks (the lint rule forbids console). */

const enc = new TextEncoder();

/** Writes one line to stdout. */
export function print(line = ""): void {
  Deno.stdout.writeSync(enc.encode(line + "\n"));
}

/** Writes one progress line to stderr (kept out of the figures on stdout). */
export function note(line: string): void {
  Deno.stderr.writeSync(enc.encode(`# ${line}\n`));
}

/** Formats rows as an aligned text table; the first row is the header. */
export function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]) =>
    r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  const sep = widths.map((w) => "-".repeat(w)).join("  ");
  return [line(rows[0]), sep, ...rows.slice(1).map(line)].join("\n");
}

/** A number with a fixed count of decimals, or `-` when unknown. */
export function fmt(n: number | undefined, decimals = 0): string {
  return n === undefined || !Number.isFinite(n) ? "-" : n.toFixed(decimals);
}

/** The p-th percentile (0..100) of the values, nearest rank. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}
