const DURATION_UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

const SIZE_UNITS: Record<string, number> = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/**
 * Parses a duration such as `30s`, `5m`, `1h30m`, `250ms` or `2d` into milliseconds.
 * A bare number is seconds.
 *
 * @throws {RangeError} when the text is not a duration
 * @example Usage
 * ```ts
 * parseDuration("1m30s"); // 90000
 * ```
 */
export function parseDuration(text: string | number): number {
  if (typeof text === "number") return text * 1000;
  const t = text.trim().toLowerCase();
  if (/^\d+(\.\d+)?$/.test(t)) return Number(t) * 1000;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/gy;
  let total = 0;
  let end = 0;
  for (const m of t.matchAll(re)) {
    total += Number(m[1]) * DURATION_UNITS[m[2]];
    end = m.index! + m[0].length;
  }
  if (end === 0 || end !== t.length) {
    throw new RangeError(`"${text}" is not a duration (examples: 30s, 5m, 1h30m, 250ms, 2d)`);
  }
  return Math.round(total);
}

/**
 * Parses a size such as `50M`, `10K`, `1G` or a plain byte count (binary units).
 *
 * @throws {RangeError} when the text is not a size
 * @example Usage
 * ```ts
 * parseSize("50M"); // 52428800
 * ```
 */
export function parseSize(text: string | number): number {
  if (typeof text === "number") {
    if (!Number.isInteger(text) || text < 0) throw new RangeError(`${text} is not a byte count`);
    return text;
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmg]?)i?b?\s*$/i.exec(text);
  if (!m) throw new RangeError(`"${text}" is not a size (examples: 50M, 10K, 1G, 1048576)`);
  return Math.round(Number(m[1]) * SIZE_UNITS[m[2].toLowerCase()]);
}

/** Formats milliseconds back into the shortest duration text, for messages. */
export function formatDuration(ms: number): string {
  for (
    const [unit, n] of [["d", 86_400_000], ["h", 3_600_000], ["m", 60_000], ["s", 1000]] as const
  ) {
    if (ms >= n && ms % n === 0) return `${ms / n}${unit}`;
  }
  return `${ms}ms`;
}
