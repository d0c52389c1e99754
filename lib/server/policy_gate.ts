import type { Decision, Stage } from "../policy/mod.ts";
import { Reply } from "../smtp/mod.ts";
import type { Session } from "./session.ts";

/** What a stage lets the command do. */
export type GateResult =
  | { pass: true; discard: false }
  | { pass: true; discard: true } // accept, then throw away (recipient or message)
  | { pass: false; reply: Reply };

const PASS: GateResult = { pass: true, discard: false };
const DISCARD: GateResult = { pass: true, discard: true };

/**
 * Runs an ACL stage for the session and turns the decision into what the command does:
 * go on, go on but discard, or reply with the rule's code (closing for `drop`). Log lines
 * and headers the rules ask for are recorded here.
 */
export async function gate(
  s: Session,
  stage: Stage,
  input: Parameters<Session["policy"]["check"]>[1] = {},
  command = stage.toUpperCase(),
): Promise<GateResult> {
  const d = await s.policy.check(stage, input);
  s.deps.trace?.(stage, d);
  logDecision(s, stage, d);
  if (d.headers.length > 0) s.pendingHeaders.push(...d.headers);
  switch (d.verb) {
    case "accept":
    case "warn":
      return PASS;
    case "discard":
      return DISCARD;
    default: {
      const reply = new Reply(d.code, d.enhanced || null, d.message, d.verb === "drop");
      s.logReject(command, reply);
      return { pass: false, reply };
    }
  }
}

function logDecision(s: Session, stage: Stage, d: Decision): void {
  const from = s.tx ? ` F=<${s.tx.sender}>` : "";
  for (const w of d.warnings) {
    s.deps.log.info(`${s.hostText}${from} Warning: ${w}`, {
      event: "acl_warn",
      stage,
      ip: s.peer.ip,
    });
  }
  if (d.logMessage && d.verb !== "warn") {
    s.deps.log.info(`${s.hostText}${from} ${stage} ACL ${d.verb}: ${d.logMessage}`, {
      event: "acl",
      stage,
      verb: d.verb,
      ip: s.peer.ip,
    });
  }
}
