import { matchDomain } from "../router/mod.ts";

/** One Exim retry rule: fixed (`F,cutoff,interval`) or geometric (`G,cutoff,first,factor`). */
export interface RetryRule {
  /** Fixed or geometric. */
  kind: "F" | "G";
  /** Applies until the message is this old (ms). */
  cutoff: number;
  /** Wait between tries (ms); for G the first wait. */
  interval: number;
  /** For G: each wait is the previous one times this. */
  factor: number;
}

/** Retry rules for some domains, as `[[retry]]` in the config. */
export interface RetryPolicy {
  /** Domain patterns the rules apply to. */
  domains: string[];
  /** Rules in order, as text. */
  rules: string[];
}

/** A retry rule or duration in it does not parse. */
export class RetryRuleError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "RetryRuleError";
  }
}

/** Exim's default: every 15 minutes for 2 hours, then growing by 1.5 from 1 hour up to 16 hours, then every 6 hours up to 4 days. */
export const DEFAULT_RETRY_RULES = ["F,2h,15m", "G,16h,1h,1.5", "F,4d,6h"];

const UNITS: Record<string, number> = {
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

function duration(text: string, rule: string): number {
  const t = text.trim().toLowerCase();
  let total = 0;
  let end = 0;
  for (const m of t.matchAll(/(\d+(?:\.\d+)?)([smhdw])/gy)) {
    total += Number(m[1]) * UNITS[m[2]];
    end = m.index! + m[0].length;
  }
  if (end === 0 || end !== t.length) {
    throw new RetryRuleError(`Cannot parse retry rule "${rule}": "${text}" is not a duration`);
  }
  return total;
}

/** Parses `F,2h,15m` or `G,16h,1h,1.5` (Exim spec, chapter "Retry configuration"). */
export function parseRetryRule(text: string): RetryRule {
  const parts = text.split(",").map((p) => p.trim());
  const kind = parts[0]?.toUpperCase();
  if (kind === "F" && parts.length === 3) {
    return {
      kind,
      cutoff: duration(parts[1], text),
      interval: duration(parts[2], text),
      factor: 1,
    };
  }
  if (kind === "G" && parts.length === 4 && Number(parts[3]) >= 1) {
    return {
      kind,
      cutoff: duration(parts[1], text),
      interval: duration(parts[2], text),
      factor: Number(parts[3]),
    };
  }
  throw new RetryRuleError(
    `Cannot parse retry rule "${text}": expected F,cutoff,interval or G,cutoff,first,factor`,
  );
}

/**
 * The times (ms after arrival) at which a message is tried under the rules: each rule adds
 * tries until its cutoff, starting where the previous one stopped.
 */
export function retryTimes(rules: RetryRule[], limit = 1000): number[] {
  const times: number[] = [];
  let t = 0;
  for (const r of rules) {
    let interval = Math.max(r.interval, 1000);
    while (t < r.cutoff && times.length < limit) {
      t += interval;
      times.push(t);
      if (r.kind === "G") interval *= r.factor;
    }
  }
  return times;
}

/**
 * Retry rules per domain pattern, first match wins, Exim's defaults when none matches.
 * Ages are measured from the message's arrival.
 */
export class RetrySchedule {
  #policies: { domains: string[]; rules: RetryRule[]; times: number[] }[];
  #fallback: { rules: RetryRule[]; times: number[] };

  /**
   * Parses the policies.
   *
   * @throws {RetryRuleError} for a rule that does not parse
   */
  constructor(policies: RetryPolicy[] = []) {
    this.#policies = policies.map((p) => {
      const rules = p.rules.map(parseRetryRule);
      return { domains: p.domains, rules, times: retryTimes(rules) };
    });
    const rules = DEFAULT_RETRY_RULES.map(parseRetryRule);
    this.#fallback = { rules, times: retryTimes(rules) };
  }

  #for(domain: string) {
    return this.#policies.find((p) => p.domains.some((d) => matchDomain(d, domain))) ??
      this.#fallback;
  }

  /** When a message that arrived at `arrival` stops being retried (its last cutoff). */
  giveUpAt(domain: string, arrival: number): number {
    const { rules } = this.#for(domain);
    return arrival + (rules.length ? rules[rules.length - 1].cutoff : 0);
  }

  /**
   * When to try again after a temporary failure at `now` of a message that arrived at
   * `arrival`; null when the last cutoff has passed and the recipient should fail.
   */
  next(domain: string, arrival: number, now: number): number | null {
    const { rules, times } = this.#for(domain);
    const age = now - arrival;
    const cutoff = rules.length ? rules[rules.length - 1].cutoff : 0;
    if (age >= cutoff) return null;
    const at = times.find((t) => t > age);
    // Past the schedule but within the cutoff: one last try at the cutoff.
    return arrival + (at ?? cutoff);
  }
}
