import { celEnv, isCelError, isCelUint } from "@bufbuild/cel";
import type { DnsResolver, LookupRegistry } from "../lookup/mod.ts";
import { type CompiledExpr, type CompiledRule, compileRules, type RuleConfig } from "./compile.ts";
import { DEFAULT_RCPT_RULES } from "./defaults.ts";
import { callLabel, EvalState, type FunctionDeps, policyFunctions } from "./functions.ts";
import type { RateLimiter } from "./ratelimit.ts";
import { interpolate, safeText } from "./reply.ts";
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
  /** Store for `ratelimit()` counters. */
  ratelimiter?: RateLimiter;
  /** Rounds of lookup resolution per expression; default 4. */
  maxLookupRounds?: number;
}

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
  readonly #rounds: number;

  private constructor(
    rules: Map<Stage, CompiledRule[]>,
    defaults: CompiledRule[],
    current: FunctionDeps["current"],
    rounds: number,
  ) {
    this.#rules = rules;
    this.#defaults = defaults;
    this.#current = current;
    this.#rounds = rounds;
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
        ratelimiter: options.ratelimiter,
        current,
      }),
    });
    const tables = new Set(options.lookups.names());
    const rules = new Map<Stage, CompiledRule[]>();
    for (const stage of STAGES) {
      const list = options.acl?.[stage];
      if (list) rules.set(stage, compileRules(stage, list, { env, tables }));
    }
    const defaults = compileRules("rcpt", DEFAULT_RCPT_RULES, { env, builtin: true });
    return new PolicyEngine(rules, defaults, current, options.maxLookupRounds ?? 4);
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
    const state = new EvalState();
    const bindings: Record<string, unknown> = { ...ctx, vars: { ...ctx.vars } };
    const acc = { headers: [] as string[], warnings: [] as string[], trace: [] as RuleTrace[] };
    let rules = this.#rules.get(stage) ?? [];
    if (stage === "rcpt") rules = [...rules, ...this.#defaults];
    for (const rule of rules) {
      const decision = await this.#evaluateRule(stage, rule, bindings, state, acc);
      if (decision) return decision;
    }
    return finish(null, bindings, acc);
  }

  async #evaluateRule(
    stage: Stage,
    rule: CompiledRule,
    bindings: Record<string, unknown>,
    state: EvalState,
    acc: { headers: string[]; warnings: string[]; trace: RuleTrace[] },
  ): Promise<Decision | null> {
    const trace: RuleTrace = {
      index: rule.index,
      verb: rule.verb,
      condition: rule.condition.source,
      result: false,
      why: "",
      ...(rule.builtin ? { builtin: true } : {}),
    };
    acc.trace.push(trace);
    const r = await this.#evaluate(rule.condition, bindings, state);
    trace.why = r.why;
    if (!r.ok || typeof r.value !== "boolean") {
      trace.result = "error";
      const error = r.ok
        ? new Error(`condition gave ${describe(r.value)}, not true or false`)
        : r.error;
      trace.why = [r.why, error.message].filter(Boolean).join("; ");
      return errorDecision(stage, rule, error, bindings, acc);
    }
    trace.result = r.value;
    if (!r.value) return null;
    for (const [name, expr] of rule.set) {
      const v = await this.#evaluate(expr, bindings, state);
      const value = v.ok ? toVar(v.value) : v.error;
      if (value instanceof Error) {
        trace.result = "error";
        trace.why = `set.${name}: ${value.message}`;
        return errorDecision(stage, rule, value, bindings, acc);
      }
      bindings.vars = { ...(bindings.vars as Record<string, VarValue>), [name]: value };
    }
    for (const h of rule.headers) acc.headers.push(safeText(interpolate(h, bindings)));
    if (rule.verb === "warn") {
      if (rule.logMessage) acc.warnings.push(safeText(interpolate(rule.logMessage, bindings)));
      return null;
    }
    return finish(rule, bindings, acc);
  }

  // Evaluates with rounds of lookup resolution (see the class comment).
  async #evaluate(
    expr: CompiledExpr,
    bindings: Record<string, unknown>,
    state: EvalState,
  ): Promise<Evaluated> {
    const before = new Set(state.notes.keys());
    const why = () => {
      const leaves = expr.paths.filter((p) => !expr.paths.some((q) => q.startsWith(p + ".")));
      const values = leaves.map((p) => `${p} = ${JSON.stringify(valueAt(bindings, p))}`);
      const calls = [...state.notes].filter(([id]) => !before.has(id)).map(([, n]) => n);
      return [...values, ...calls].join(", ");
    };
    for (let round = 0; round < this.#rounds; round++) {
      state.startPass();
      this.#current.state = state;
      // Failures and pending side effects come back as CEL errors; their stack traces are
      // never read, so none are taken.
      const limit = Error.stackTraceLimit;
      Error.stackTraceLimit = 0;
      let result;
      try {
        result = expr.run(bindings);
      } finally {
        Error.stackTraceLimit = limit;
        this.#current.state = null;
      }
      if (expr.usesAsync && state.hasPending) {
        await state.resolve(callLabel); // placeholders were used: evaluate again
        continue;
      }
      if (!isCelError(result)) return { ok: true, value: result, why: why() };
      if (expr.usesAsync && state.hasPendingEffects) {
        await state.resolve(callLabel, true); // every other answer is real: count now
        continue;
      }
      const failed = state.failureOf([...state.notes.keys()].filter((id) => !before.has(id)));
      return { ok: false, error: failed ?? result, why: why() };
    }
    return {
      ok: false,
      error: new Error(`more than ${this.#rounds} rounds of lookups`),
      why: why(),
    };
  }
}

function valueAt(root: Record<string, unknown>, path: string): unknown {
  let v: unknown = root;
  for (const part of path.split(".")) {
    v = v !== null && typeof v === "object" ? (v as Record<string, unknown>)[part] : undefined;
  }
  return v;
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

function finish(
  rule: CompiledRule | null,
  bindings: Record<string, unknown>,
  acc: { headers: string[]; warnings: string[]; trace: RuleTrace[] },
): Decision {
  const verb = rule?.verb ?? "accept";
  const reply = rule?.reply ?? { code: 250, enhanced: "2.0.0", text: "OK" };
  const accepted = verb === "accept" || verb === "discard";
  return {
    verb,
    code: reply.code,
    enhanced: reply.enhanced,
    message: safeText(interpolate(reply.text, bindings)),
    logMessage: rule?.logMessage ? safeText(interpolate(rule.logMessage, bindings)) : "",
    warnings: acc.warnings,
    headers: accepted || verb === "warn" ? acc.headers : [],
    vars: bindings.vars as Record<string, VarValue>,
    ruleIndex: rule?.index ?? -1,
    builtin: rule?.builtin ?? false,
    trace: acc.trace,
  };
}

function errorDecision(
  stage: Stage,
  rule: CompiledRule,
  error: Error,
  bindings: Record<string, unknown>,
  acc: { headers: string[]; warnings: string[]; trace: RuleTrace[] },
): Decision {
  const where = `acl.${stage}[${rule.index}]${rule.builtin ? " (built-in)" : ""}`;
  return {
    verb: "defer",
    code: 451,
    enhanced: "4.3.0",
    message: "Temporary local problem, please try later",
    logMessage: safeText(`${where} ${rule.verb} condition failed: ${error.message}`),
    warnings: acc.warnings,
    headers: [],
    vars: bindings.vars as Record<string, VarValue>,
    ruleIndex: rule.index,
    builtin: rule.builtin,
    trace: acc.trace,
  };
}
