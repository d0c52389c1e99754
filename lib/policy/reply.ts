import { valueAt } from "./context.ts";
import type { Stage, Verb } from "./types.ts";

/** A reply code, enhanced code and text. */
export interface ReplyParts {
  code: number;
  enhanced: string;
  text: string;
}

const ACCEPT_TEXT: Partial<Record<Stage, [string, string]>> = {
  mail: ["2.1.0", "Sender OK"],
  rcpt: ["2.1.5", "Recipient OK"],
};

/** The reply a verb gives at a stage when its rule has no `message`. */
export function defaultReply(stage: Stage, verb: Verb): ReplyParts {
  const late = stage === "predata" || stage === "data";
  switch (verb) {
    case "deny":
    case "drop":
      // RFC 5321 3.1: 554 refuses a connection; elsewhere 550 (Exim's default).
      return stage === "connect"
        ? { code: 554, enhanced: "5.7.1", text: "Service unavailable" }
        : { code: 550, enhanced: "5.7.1", text: "Administrative prohibition" };
    case "defer":
      return {
        code: late ? 451 : 450,
        enhanced: "4.7.1",
        text: "Temporary local problem, please try later",
      };
    default: {
      const [enhanced, text] = ACCEPT_TEXT[stage] ?? ["2.0.0", "OK"];
      return { code: 250, enhanced, text };
    }
  }
}

/** The reply class (first digit) a verb's custom code must have. */
export function verbClass(verb: Verb): 2 | 4 | 5 {
  return verb === "deny" || verb === "drop" ? 5 : verb === "defer" ? 4 : 2;
}

/**
 * Splits a `message` into code, enhanced code and text: `550 5.7.1 Go away`,
 * `5.7.1 Go away` or `Go away`; missing parts come from `fallback`.
 * Returns an error text when a code does not fit the verb's class.
 */
export function parseMessage(
  message: string,
  verb: Verb,
  fallback: ReplyParts,
): ReplyParts | string {
  const m = /^(?:([2-5]\d\d)(?:\s+|$))?(?:([2-5])\.(\d{1,3})\.(\d{1,3})(?:\s+|$))?(.*)$/s.exec(
    message,
  )!;
  const cls = verbClass(verb);
  const code = m[1] ? Number(m[1]) : fallback.code;
  if (Math.floor(code / 100) !== cls) return `code ${code} does not fit ${verb} (needs ${cls}xx)`;
  if (m[2] && Number(m[2]) !== cls) {
    return `enhanced code ${m[2]}.${m[3]}.${m[4]} does not fit ${verb}`;
  }
  return {
    code,
    enhanced: m[2] ? `${m[2]}.${m[3]}.${m[4]}` : fallback.enhanced,
    text: m[5] || fallback.text,
  };
}

const PLACEHOLDER = /\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_-]+)*)\}/g;

/** The `{path}` placeholders of a template, for checking at load time. */
export function placeholders(template: string): string[] {
  return [...template.matchAll(PLACEHOLDER)].map((m) => m[1]);
}

/**
 * Replaces `{sender.domain}`-style placeholders with context values. Values are data:
 * control characters (CR, LF ...) become `?`, each value is cut at 200 characters, and the
 * result is never interpreted again.
 */
export function interpolate(template: string, ctx: Record<string, unknown>): string {
  if (!template.includes("{")) return template;
  return template.replace(PLACEHOLDER, (_, path: string) => {
    const v = valueAt(ctx, path);
    if (v === undefined || v === null) return "";
    return safeText(Array.isArray(v) ? v.join(", ") : String(v)).slice(0, 200);
  });
}

/** Replaces control characters so text fits in one reply or header line. */
export function safeText(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/[\x00-\x1f\x7f]/g, "?");
}
