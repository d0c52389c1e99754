import { celEnv, isCelError, isCelUint } from "@bufbuild/cel";
import type { DnsResolver, LookupRegistry } from "../lookup/mod.ts";
import { type CompiledExpr, type CompiledRule, compileRules, type RuleConfig } from "./compile.ts";
import { DEFAULT_RCPT_RULES } from "./defaults.ts";
import {
  callLabel,
  EvalState,
  type FunctionDeps,
  policyFunctions,
  type SpfFunction,
} from "./functions.ts";
import type { RateLimiter } from "./ratelimit.ts";
import { defaultReply, interpolate, type ReplyParts, safeText } from "./reply.ts";
import { toBindings, valueAt } from "./context.ts";
import {
  type Decision,
  type PolicyContext,
  type RuleTrace,
  type Stage,
  STAGES,
  type VarValue,
} from "./types.ts";

/** Options of {@linkcode PolicyEngine.create}. */
export interface PolicyEngineOptions {
  /** `[[acl.STAGE]]` rules by stage (the `aclSchema` output); absent stages pass. */
  acl?: Partial<Record<Stage, readonly RuleConfig[] | undefined>>;
  /** The opened lookup tables. */
  lookups: LookupRegistry;
  /** Resolver for `dnsbl()`. */
  resolver?: DnsResolver;
  /** Evaluator for `spf(address, ip)`. */
  spf?: SpfFunction;
  /** Store for `ratelimit()` counters. */
  ratelimiter?: RateLimiter;
  /** Rounds of lookup resolution per expression; default 4. */
  maxLookupRounds?: number;
  /**
   * What a deny, drop or defer rule that reads `spf.*` or `dmarc.*` does when that check
   * ended in temperror: `defer` (the default: never fail open) or `continue` (evaluate it).
   */
  onTemperror?: Partial<Record<CheckedResult, "defer" | "continue">>;
}

/** Checks whose temperror makes rules that read them defer. */
type CheckedResult = "spf" | "dmarc";

// RFC 7372 3.2: X.7.24 is an SPF validation error; DMARC has no code of its own.
const TEMPERROR_REPLY: Record<CheckedResult, { enhanced: string; text: string }> = {
  spf: { enhanced: "4.7.24", text: "SPF check could not be completed, please try later" },
  dmarc: { enhanced: "4.7.0", text: "DMARC check could not be completed, please try later" },
};

type Evaluated = { ok: true; value: unknown; why: string } | {
  ok: false;
  error: Error;
  why: string;
};

/**
 * Runs ACL stages. Conditions are compiled once in {@linkcode PolicyEngine.create}; each
 * `evaluateStage` walks the stage's rules in order: the first whose verb triggers decides,
 * warn rules add headers and log lines and go on. A rule whose condition cannot be
 * evaluated (lookup deferred, type error) decides `defer` (451 4.3.0): never fail open.
 *
 * Lookups in conditions: evaluation is synchronous, so a pass records the lookups it lacks,
 * the engine runs them concurrently, and the expression is evaluated again with the answers
 * (a nested lookup needs one more pass). Answers are shared by the stage's rules.
 */
export class PolicyEngine {
  readonly #rules: Map<Stage, CompiledRule[]>;
  readonly #defaults: CompiledRule[];
  readonly #current: FunctionDeps["current"];
  readonly #maxRounds: number;
  readonly #vars: string[];
  readonly #failClosed: CheckedResult[];

  private constructor(
    rules: Map<Stage, CompiledRule[]>,
    defaults: CompiledRule[],
    current: FunctionDeps["current"],
    rounds: number,
    vars: string[],
    failClosed: CheckedResult[],
  ) {
    this.#vars = vars;
    this.#failClosed = failClosed;
    this.#rules = rules;
    this.#defaults = defaults;
    this.#current = current;
    this.#maxRounds = rounds;
  }

  /**
   * Compiles every rule.
   *
   * @throws {PolicyConfigError} naming the stage, rule and key of a bad rule
   * @example Usage
   * ```ts
   * const engine = PolicyEngine.create({ acl: config.acl, lookups: registry });
   * const d = await engine.evaluateStage("rcpt", makeContext({ rcpt: splitAddress(to) }));
   * ```
   */
  static create(options: PolicyEngineOptions): PolicyEngine {
    const current: FunctionDeps["current"] = { state: null };
    const env = celEnv({
      funcs: policyFunctions({
        lookups: options.lookups,
        resolver: options.resolver,
        spf: options.spf,
        ratelimiter: options.ratelimiter,
        current,
      }),
    });
    const tables = new Set(options.lookups.names());
    const vars = new Set(
      STAGES.flatMap((st) => (options.acl?.[st] ?? []).flatMap((r) => Object.keys(r.set ?? {}))),
    );
    const rules = new Map<Stage, CompiledRule[]>();
    for (const stage of STAGES) {
      const list = options.acl?.[stage];
      if (list) rules.set(stage, compileRules(stage, list, { env, tables, vars }));
    }
    const defaults = compileRules("rcpt", DEFAULT_RCPT_RULES, { env, builtin: true });
    const failClosed = (["spf", "dmarc"] as const).filter((c) =>
      (options.onTemperror?.[c] ?? "defer") === "defer"
    );
    return new PolicyEngine(
      rules,
      defaults,
      current,
      options.maxLookupRounds ?? 4,
      [...vars],
      failClosed,
    );
  }

  /** True when the stage has configured rules (stages without rules always accept). */
  hasRules(stage: Stage): boolean {
    return (this.#rules.get(stage)?.length ?? 0) > 0;
  }

  /**
   * Evaluates a stage. The rcpt stage ends with the built-in relay-control rules when no
   * configured rule decided; other stages accept when no rule decided.
   */
  async evaluateStage(stage: Stage, ctx: PolicyContext): Promise<Decision> {
    const configured = this.#rules.get(stage) ?? [];
    if (configured.length === 0 && stage !== "rcpt") return passWithoutRules(stage, ctx);
    const state = new EvalState();
    const bindings = toBindings(ctx);
    // Variables some rule sets but nobody has set yet read as null.
    const vars = bindings.vars as Map<string, unknown>;
    for (const name of this.#vars) if (!vars.has(name)) vars.set(name, null);
    const acc: Acc = { headers: [], warnings: [], trace: [], vars: { ...ctx.vars } };
    let rules = this.#rules.get(stage) ?? [];
    if (stage === "rcpt") rules = [...rules, ...this.#defaults];
    const unknown = this.#failClosed.filter((c) =>
      ctx[c].result === "temperror" || ctx[c].status === "temperror"
    );
    for (const rule of rules) {
      const check = unknown.find((c) => FAIL_CLOSED_VERBS.has(rule.verb) && readsCheck(rule, c));
      if (check) return temperrorDecision(stage, rule, check, acc);
      // Rules without pending lookups finish synchronously: no await per rule.
      let decision = this.#evaluateRule(stage, rule, bindings, state, acc);
      if (decision instanceof Promise) decision = await decision;
      if (decision) return decision;
    }
    return finish(null, bindings, acc, defaultReply(stage, "accept"));
  }

  #evaluateRule(
    stage: Stage,
    rule: CompiledRule,
    bindings: Record<string, unknown>,
    state: EvalState,
    acc: Acc,
  ): Decision | null | Promise<Decision | null> {
    const trace: RuleTrace = {
      index: rule.index,
      verb: rule.verb,
      condition: rule.condition.source,
      result: false,
      why: "",
      ...(rule.builtin ? { builtin: true } : {}),
    };
    acc.trace.push(trace);
    const r = this.#evaluate(rule.condition, bindings, state);
    const decide = (r: Evaluated) => {
      trace.why = r.why;
      if (!r.ok || typeof r.value !== "boolean") {
        trace.result = "error";
        const error = r.ok
          ? new Error(`condition gave ${describe(r.value)}, not true or false`)
          : r.error;
        trace.why = [r.why, error.message].filter(Boolean).join("; ");
        return errorDecision(stage, rule, error, acc);
      }
      trace.result = r.value;
      if (!r.value) return null;
      if (rule.set.length) return this.#applySet(stage, rule, trace, bindings, state, acc);
      return conclude(rule, bindings, acc);
    };
    return r instanceof Promise ? r.then(decide) : decide(r);
  }

  async #applySet(
    stage: Stage,
    rule: CompiledRule,
    trace: RuleTrace,
    bindings: Record<string, unknown>,
    state: EvalState,
    acc: Acc,
  ): Promise<Decision | null> {
    for (const [name, expr] of rule.set) {
      const v = await this.#evaluate(expr, bindings, state);
      const value = v.ok ? toVar(v.value) : v.error;
      if (value instanceof Error) {
        trace.result = "error";
        trace.why = `set.${name}: ${value.message}`;
        return errorDecision(stage, rule, value, acc);
      }
      (bindings.vars as Map<string, VarValue>).set(name, value);
      acc.vars[name] = value;
    }
    return conclude(rule, bindings, acc);
  }

  // One synchronous pass; when it used placeholders (or reached an unanswered ratelimit
  // that matters), rounds of resolution follow (see the class comment).
  #evaluate(
    expr: CompiledExpr,
    bindings: Record<string, unknown>,
    state: EvalState,
  ): Evaluated | Promise<Evaluated> {
    const before = expr.usesAsync ? new Set(state.notes.keys()) : NO_NOTES;
    const result = this.#pass(expr, bindings, state);
    const pending = expr.usesAsync &&
      (state.hasPending || (isCelError(result) && state.hasPendingEffects));
    if (!pending) return this.#settle(expr, bindings, state, before, result);
    return this.#rounds(expr, bindings, state, before);
  }

  async #rounds(
    expr: CompiledExpr,
    bindings: Record<string, unknown>,
    state: EvalState,
    before: ReadonlySet<string>,
  ): Promise<Evaluated> {
    for (let round = 1; round < this.#maxRounds; round++) {
      // Placeholders were used: resolve them; else every other answer is real, so the
      // pending ratelimit() is needed: count it now.
      await state.resolve(callLabel, !state.hasPending);
      const result = this.#pass(expr, bindings, state);
      if (!state.hasPending && !(isCelError(result) && state.hasPendingEffects)) {
        return this.#settle(expr, bindings, state, before, result);
      }
    }
    const error = new Error(`more than ${this.#maxRounds} rounds of lookups`);
    return { ok: false, error, why: why(expr, bindings, state, before) };
  }

  #pass(expr: CompiledExpr, bindings: Record<string, unknown>, state: EvalState): unknown {
    state.startPass();
    this.#current.state = state;
    // Failures and pending side effects come back as CEL errors; their stack traces are
    // never read, so none are taken.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      return expr.run(bindings);
    } finally {
      Error.stackTraceLimit = limit;
      this.#current.state = null;
    }
  }

  #settle(
    expr: CompiledExpr,
    bindings: Record<string, unknown>,
    state: EvalState,
    before: ReadonlySet<string>,
    result: unknown,
  ): Evaluated {
    const w = why(expr, bindings, state, before);
    if (!isCelError(result)) return { ok: true, value: result, why: w };
    const failed = state.failureOf([...state.notes.keys()].filter((id) => !before.has(id)));
    return { ok: false, error: failed ?? result, why: w };
  }
}

type Acc = {
  headers: string[];
  warnings: string[];
  trace: RuleTrace[];
  vars: Record<string, VarValue>;
};

const NO_NOTES: ReadonlySet<string> = new Set();

// The trace's "why": the context fields the expression read and the calls it made.
function why(
  expr: CompiledExpr,
  bindings: Record<string, unknown>,
  state: EvalState,
  before: ReadonlySet<string>,
): string {
  const leaves = expr.paths.filter((p) => !expr.paths.some((q) => q.startsWith(p + ".")));
  const values = leaves.map((p) => `${p} = ${brief(valueAt(bindings, p))}`);
  const calls = expr.usesAsync
    ? [...state.notes].filter(([id]) => !before.has(id)).map(([, n]) => n)
    : [];
  return [...values, ...calls].join(", ");
}

// A triggered rule: its headers count; warn logs and goes on, other verbs decide.
function conclude(
  rule: CompiledRule,
  bindings: Record<string, unknown>,
  acc: Acc,
): Decision | null {
  for (const h of rule.headers) acc.headers.push(safeText(interpolate(h, bindings)));
  if (rule.verb !== "warn") return finish(rule, bindings, acc);
  if (rule.logMessage) acc.warnings.push(safeText(interpolate(rule.logMessage, bindings)));
  return null;
}

// A value for the trace, cheap even for long lists (relay.domains may hold thousands).
function brief(v: unknown): string {
  if (Array.isArray(v)) {
    const head = v.slice(0, 5).map(brief).join(",");
    return v.length > 5 ? `[${head},... ${v.length} items]` : `[${head}]`;
  }
  if (v instanceof Map) return `{${v.size} keys}`;
  if (typeof v === "string" && v.length > 100) return JSON.stringify(v.slice(0, 100) + "...");
  return JSON.stringify(v) ?? String(v);
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (typeof v === "string") return `a string ${JSON.stringify(v.slice(0, 40))}`;
  return `a ${typeof v}`;
}

function toVar(v: unknown): VarValue | Error {
  if (v === null || typeof v === "string" || typeof v === "boolean" || typeof v === "number") {
    return v;
  }
  if (typeof v === "bigint") return Number(v);
  if (isCelUint(v)) return Number(v.value);
  return new Error("a variable holds a string, number, boolean or null");
}

/** A stage without rules passes: no bindings to build, nothing to evaluate. */
function passWithoutRules(stage: Stage, ctx: PolicyContext): Decision {
  const reply = defaultReply(stage, "accept");
  return {
    verb: "accept",
    code: reply.code,
    enhanced: reply.enhanced,
    message: reply.text,
    logMessage: "",
    warnings: [],
    headers: [],
    vars: { ...ctx.vars },
    ruleIndex: -1,
    builtin: false,
    trace: [],
  };
}

function finish(
  rule: CompiledRule | null,
  bindings: Record<string, unknown>,
  acc: Acc,
  passed?: ReplyParts,
): Decision {
  const verb = rule?.verb ?? "accept";
  const reply = rule?.reply ?? passed!;
  const accepted = verb === "accept" || verb === "discard";
  return {
    verb,
    code: reply.code,
    enhanced: reply.enhanced,
    message: safeText(interpolate(reply.text, bindings)),
    logMessage: rule?.logMessage ? safeText(interpolate(rule.logMessage, bindings)) : "",
    warnings: acc.warnings,
    headers: accepted || verb === "warn" ? acc.headers : [],
    vars: acc.vars,
    ruleIndex: rule?.index ?? -1,
    builtin: rule?.builtin ?? false,
    trace: acc.trace,
  };
}

const FAIL_CLOSED_VERBS: ReadonlySet<string> = new Set(["deny", "drop", "defer"]);

function readsCheck(rule: CompiledRule, check: CheckedResult): boolean {
  return rule.condition.roots.has(check) || rule.set.some(([, e]) => e.roots.has(check));
}

// A rule that would refuse on a check that could not answer defers instead (fail closed).
function temperrorDecision(
  stage: Stage,
  rule: CompiledRule,
  check: CheckedResult,
  acc: Acc,
): Decision {
  const where = `acl.${stage}[${rule.index}]`;
  acc.trace.push({
    index: rule.index,
    verb: rule.verb,
    condition: rule.condition.source,
    result: "error",
    why: `${check} temperror (${check}.on_temperror = "defer")`,
  });
  const reply = TEMPERROR_REPLY[check];
  return deferDecision(rule, acc, {
    enhanced: reply.enhanced,
    message: reply.text,
    logMessage: `${where} ${rule.verb} deferred: the ${check.toUpperCase()} check ended in ` +
      `temperror (${check}.on_temperror = "defer")`,
  });
}

function errorDecision(
  stage: Stage,
  rule: CompiledRule,
  error: Error,
  acc: Acc,
): Decision {
  const where = `acl.${stage}[${rule.index}]${rule.builtin ? " (built-in)" : ""}`;
  return deferDecision(rule, acc, {
    enhanced: "4.3.0",
    message: "Temporary local problem, please try later",
    logMessage: safeText(`${where} ${rule.verb} condition failed: ${error.message}`),
  });
}

/** A 451 decision for `rule` (a check or condition that could not answer: never fail open). */
function deferDecision(
  rule: CompiledRule,
  acc: Acc,
  what: { enhanced: string; message: string; logMessage: string },
): Decision {
  return {
    verb: "defer",
    code: 451,
    ...what,
    warnings: acc.warnings,
    headers: [],
    vars: acc.vars,
    ruleIndex: rule.index,
    builtin: rule.builtin,
    trace: acc.trace,
  };
}
