/** ACL stages, in the order a session meets them; quit and notquit only log. */
export const STAGES = [
  "connect",
  "helo",
  "mail",
  "rcpt",
  "predata",
  "data",
  "quit",
  "notquit",
] as const;
/** One ACL stage. */
export type Stage = typeof STAGES[number];

/** Rule verbs; each rule has exactly one. */
export const VERBS = ["accept", "deny", "defer", "warn", "drop", "discard"] as const;
/** One rule verb. */
export type Verb = typeof VERBS[number];

/** A variable value (`set = { name = "expr" }`). */
export type VarValue = string | number | boolean | null;

/** An address split for conditions; all empty when there is none (null sender, no RCPT yet). */
export interface AddressContext {
  address: string;
  local: string;
  domain: string;
}

/**
 * What conditions see. Untrusted text (HELO, addresses, headers) is only ever data here.
 * Every field exists (empty strings, false, 0) so conditions need no `has()` checks.
 */
export interface PolicyContext {
  client: { ip: string; port: number; hostname: string; helo: string };
  tls: { version: string; cipher: string; sni: string; peer_subject: string };
  auth: { user: string };
  authenticated: boolean;
  sender: AddressContext;
  rcpt: AddressContext;
  /** Recipients accepted so far in this transaction (predata, data). */
  rcpts: string[];
  message: { size: number; headers: Record<string, string[]> };
  proxy: Record<string, string | number | boolean>;
  spf: Record<string, string>;
  dkim: Record<string, string>;
  dmarc: Record<string, string>;
  /** ARC chain verification (RFC 8617): `arc.result` is none, pass or fail. */
  arc: Record<string, string>;
  /** Variables set by rules: `m_*` per message, others per connection. */
  vars: Record<string, VarValue>;
  /** The relay's own settings, for the built-in rules and for admins' rules. */
  relay: { hostname: string; domains: string[]; trusted_networks: string[] };
}

/** Each rule's outcome, for `test-session` and debug logs. */
export interface RuleTrace {
  /** Index of the rule in `[[acl.STAGE]]` (or in the built-in list, with `builtin`). */
  index: number;
  verb: Verb;
  /** The condition text. */
  condition: string;
  /** true: the verb triggered; false: it did not; "error": evaluation failed. */
  result: boolean | "error";
  /** Why: the lookups made and their answers, or the error. */
  why: string;
  builtin?: boolean;
}

/** The verdict of a stage. */
export interface Decision {
  /** `accept` also when no rule decided (the stage passes). */
  verb: Verb;
  /** SMTP reply code to send (250 for accept and discard). */
  code: number;
  /** Enhanced status code (RFC 3463), such as `5.7.1`. */
  enhanced: string;
  /** Reply text (without code), safe to send: one line, no control characters. */
  message: string;
  /** Text for the main log from the deciding rule, or "". */
  logMessage: string;
  /** `log_message` of every warn rule that triggered. */
  warnings: string[];
  /** Header lines (`Name: value`) to add to the message, from warn and the deciding rule. */
  headers: string[];
  /** Variables after the stage (context vars plus what triggered rules set). */
  vars: Record<string, VarValue>;
  /** Index of the deciding rule; -1 when no rule decided. */
  ruleIndex: number;
  /** True when the deciding rule was one of the built-in relay-control rules. */
  builtin: boolean;
  /** Every evaluated rule in order. */
  trace: RuleTrace[];
}

/** A rule cannot be compiled; names the stage and rule index (`acl.rcpt[2]`). */
export class PolicyConfigError extends Error {
  /** The stage of the rule. */
  readonly stage: Stage;
  /** 0-based index of the rule in the stage. */
  readonly index: number;
  /** The TOML key at fault (`deny`, `set.score`, `message`). */
  readonly key: string;
  /** Creates the error; `detail` says what is wrong. */
  constructor(stage: Stage, index: number, key: string, detail: string) {
    super(`Cannot compile acl.${stage}[${index}].${key}: ${detail}`);
    this.name = "PolicyConfigError";
    this.stage = stage;
    this.index = index;
    this.key = key;
  }
}
