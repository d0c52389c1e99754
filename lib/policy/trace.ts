import type { Decision, Stage } from "./types.ts";

/**
 * Renders a decision for `relay test-session` and debug logs: one line per evaluated rule
 * (`acl.rcpt[1] deny -> false: rcpt.domain = "example.org", ...`), then the verdict.
 *
 * @example Usage
 * ```ts
 * for (const line of formatDecision("rcpt", decision)) console.log(line);
 * ```
 */
export function formatDecision(stage: Stage, d: Decision): string[] {
  const lines = d.trace.map((t) => {
    const where = t.builtin ? `built-in ${stage}[${t.index}]` : `acl.${stage}[${t.index}]`;
    const result = t.result === "error" ? "ERROR" : String(t.result);
    return `${where} ${t.verb} '${t.condition}' -> ${result}${t.why ? `: ${t.why}` : ""}`;
  });
  const rule = d.ruleIndex < 0
    ? "no rule decided"
    : `${d.builtin ? "built-in" : "acl"} ${stage}[${d.ruleIndex}]`;
  lines.push(`=> ${d.verb} ${d.code} ${d.enhanced} ${d.message} (${rule})`);
  for (const h of d.headers) lines.push(`   add header: ${h}`);
  for (const w of d.warnings) lines.push(`   warning: ${w}`);
  if (d.logMessage) lines.push(`   log: ${d.logMessage}`);
  return lines;
}
