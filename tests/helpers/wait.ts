/**
 * The one way tests wait for something to happen: poll a condition with a deadline. Tests
 * never sleep a fixed time and hope; they wait for the state they then assert on.
 */

/** Options of {@linkcode waitFor}. */
export interface WaitOptions {
  /** Give up after this long; default 10 s. */
  timeoutMs?: number;
  /** Time between polls; default 20 ms. */
  intervalMs?: number;
  /** What is awaited, for the error message. */
  what?: string;
  /** More text for the error message (for example the log lines so far). */
  detail?: () => string;
}

/** What a condition returns once met (its falsy values mean "not yet"). */
export type Truthy<T> = Exclude<T, false | null | undefined | 0 | "">;

/** A condition was not met before its deadline. */
export class WaitTimeoutError extends Error {
  /** Says what was awaited and for how long. */
  constructor(what: string, ms: number, detail = "") {
    super(`Timed out after ${ms} ms waiting for ${what}${detail ? `:\n${detail}` : ""}`);
    this.name = "WaitTimeoutError";
  }
}

/**
 * Polls `cond` until it returns a truthy value and returns that value; throws
 * {@linkcode WaitTimeoutError} after `timeoutMs`. A condition that throws fails the wait at
 * once (catch inside it what means "not yet").
 *
 * @example Waiting for a message in the spool
 * ```ts
 * const [m] = await waitFor(async () => {
 *   const all = await relay.messages();
 *   return all.length > 0 && all;
 * }, { what: "a message in the spool" });
 * ```
 */
export async function waitFor<T>(
  cond: () => T | Promise<T>,
  opts: WaitOptions = {},
): Promise<Truthy<T>> {
  const { timeoutMs = 10_000, intervalMs = 20, what = "condition" } = opts;
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await cond();
    if (v) return v as Truthy<T>;
    if (Date.now() > end) throw new WaitTimeoutError(what, timeoutMs, opts.detail?.());
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
