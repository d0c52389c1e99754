import { type CelEnv, type CelResult, parse, plan } from "@bufbuild/cel";
import { parseCidr } from "../net/mod.ts";
import { ASYNC_FUNCTIONS, POLICY_FUNCTIONS } from "./functions.ts";
import { parseRate } from "./ratelimit.ts";
import { defaultReply, parseMessage, placeholders, type ReplyParts } from "./reply.ts";
import { PolicyConfigError, type Stage, type Verb, VERBS } from "./types.ts";

/** One `[[acl.STAGE]]` rule as the config schema outputs it (`aclRuleSchema`). */
export interface RuleConfig {
  accept?: string;
  deny?: string;
  defer?: string;
  warn?: string;
  drop?: string;
  discard?: string;
  message?: string;
  log_message?: string;
  add_header?: string[];
  set?: Record<string, string>;
}

/** A CEL expression, parsed and planned once. */
export interface CompiledExpr {
  source: string;
  run: (bindings: Record<string, unknown>) => CelResult;
  /** Calls lookup/dnsbl/ratelimit..., so evaluation may need rounds of I/O. */
  usesAsync: boolean;
  /** Context fields it reads (`rcpt.domain`), shown with their values in traces. */
  paths: string[];
  /** Top-level context names it reads (`spf`, `rcpt`...). */
  roots: ReadonlySet<string>;
}

/** A rule ready to evaluate. */
export interface CompiledRule {
  index: number;
  verb: Verb;
  condition: CompiledExpr;
  /** Reply parts; the text may hold `{path}` placeholders. */
  reply: ReplyParts;
  logMessage: string;
  headers: string[];
  set: [string, CompiledExpr][];
  builtin: boolean;
}

/** What the compiler checks names against. */
export interface CompileOptions {
  /** The CEL environment with the policy functions. */
  env: CelEnv;
  /** Configured lookup table names; a literal unknown name in lookup()/in_list() is an error. */
  tables?: ReadonlySet<string>;
  /** Variable names some rule sets; reading any other `vars.NAME` is an error. */
  vars?: ReadonlySet<string>;
  /** Marks the rules as built-in (for traces). */
  builtin?: boolean;
}

/** Top-level names a condition may use. */
export const CONTEXT_NAMES: ReadonlySet<string> = new Set([
  "client",
  "tls",
  "auth",
  "authenticated",
  "sender",
  "rcpt",
  "rcpts",
  "message",
  "proxy",
  "spf",
  "dkim",
  "dmarc",
  "arc",
  "vars",
  "relay",
]);

// Operators and macros the parser emits that are not ordinary functions.
const SPECIAL_CALLS = new Set(["_&&_", "_||_", "_[_]", "_?_:_", "@not_strictly_false", "_[?_]"]);

/**
 * Compiles a stage's rules: parses and plans every CEL expression once and checks names,
 * arities, literal table names, rates, networks and reply codes.
 *
 * @throws {PolicyConfigError} naming `acl.STAGE[INDEX].KEY` and the problem
 */
export function compileRules(
  stage: Stage,
  rules: readonly RuleConfig[],
  options: CompileOptions,
): CompiledRule[] {
  return rules.map((rule, index) => compileRule(stage, index, rule, options));
}

function compileRule(
  stage: Stage,
  index: number,
  rule: RuleConfig,
  options: CompileOptions,
): CompiledRule {
  const fail = (key: string, detail: string): never => {
    throw new PolicyConfigError(stage, index, key, detail);
  };
  const verbs = VERBS.filter((v) => rule[v] !== undefined);
  if (verbs.length !== 1) {
    fail(verbs[1] ?? "accept", `a rule needs exactly one of ${VERBS.join(", ")}`);
  }
  const verb = verbs[0];
  const condition = compileExpr(rule[verb]!, options, (d) => fail(verb, d), true);
  let reply = defaultReply(stage, verb);
  if (rule.message !== undefined) {
    const parsed = parseMessage(rule.message, verb, reply);
    if (typeof parsed === "string") fail("message", parsed);
    else reply = parsed;
    checkPlaceholders(rule.message, options, (d) => fail("message", d));
  }
  const headers = rule.add_header ?? [];
  headers.forEach((h) => checkPlaceholders(h, options, (d) => fail("add_header", d)));
  const set = Object.entries(rule.set ?? {}).map(([name, source]): [string, CompiledExpr] => [
    name,
    compileExpr(source, options, (d) => fail(`set.${name}`, d), false),
  ]);
  return {
    index,
    verb,
    condition,
    reply,
    logMessage: rule.log_message ?? "",
    headers,
    set,
    builtin: options.builtin ?? false,
  };
}

function checkPlaceholders(
  template: string,
  options: CompileOptions,
  fail: (detail: string) => never,
): void {
  for (const p of placeholders(template)) {
    const [root, field] = p.split(".");
    if (!CONTEXT_NAMES.has(root)) fail(`unknown placeholder {${p}}`);
    if (root === "vars" && field) checkVar(field, options, fail);
  }
}

function checkVar(name: string, options: CompileOptions, fail: (detail: string) => never): void {
  if (options.vars && !options.vars.has(name)) {
    fail(`unknown variable vars.${name}: no rule sets it (set = { ${name} = "..." })`);
  }
}

/**
 * Parses, checks and plans one expression.
 *
 * @param condition true for a rule condition, which must give true or false
 */
export function compileExpr(
  source: string,
  options: CompileOptions,
  fail: (detail: string) => never,
  condition: boolean,
): CompiledExpr {
  // deno-lint-ignore no-explicit-any
  let ast: any;
  try {
    ast = parse(source).expr;
  } catch (e) {
    fail(`syntax error in '${source}': ${(e as Error).message}`);
  }
  const info: CheckInfo = { usesAsync: false, paths: new Set(), roots: new Set() };
  checkNode(ast, new Set(), options, fail, info);
  if (condition) checkBoolean(ast, fail);
  const run = plan(options.env, ast) as CompiledExpr["run"];
  const paths = [...info.paths].slice(0, 8);
  return { source, run, usesAsync: info.usesAsync, paths, roots: info.roots };
}

type CheckInfo = { usesAsync: boolean; paths: Set<string>; roots: Set<string> };

// deno-lint-ignore no-explicit-any
function checkBoolean(ast: any, fail: (detail: string) => never): void {
  const k = ast.exprKind;
  if (k.case === "constExpr" && k.value.constantKind.case !== "boolValue") {
    fail("the condition must give true or false, not a constant value");
  }
  if (k.case === "callExpr" && ["lookup", "lookup_list"].includes(k.value.function)) {
    fail(
      `${k.value.function}() gives a value, not true or false: compare it (!= null) or use in_list()`,
    );
  }
}

function checkNode(
  // deno-lint-ignore no-explicit-any
  node: any,
  scope: ReadonlySet<string>,
  options: CompileOptions,
  fail: (detail: string) => never,
  info: CheckInfo,
): void {
  if (!node) return;
  const k = node.exprKind;
  const walk = (n: unknown, s = scope) => checkNode(n, s, options, fail, info);
  switch (k.case) {
    case "constExpr":
      return;
    case "identExpr":
      if (!CONTEXT_NAMES.has(k.value.name) && !scope.has(k.value.name)) {
        fail(`unknown name ${k.value.name} (known: ${[...CONTEXT_NAMES].join(", ")})`);
      }
      if (k.value.name === "authenticated") info.paths.add("authenticated");
      if (!scope.has(k.value.name)) info.roots.add(k.value.name);
      return;
    case "selectExpr": {
      const path = selectPath(node);
      if (path && !scope.has(path.split(".")[0])) info.paths.add(path);
      if (
        path?.startsWith("vars.") || (k.value.testOnly && selectPath(k.value.operand) === "vars")
      ) {
        checkVar(k.value.field, options, fail);
      }
      return walk(k.value.operand);
    }
    case "listExpr":
      for (const e of k.value.elements) walk(e);
      return;
    case "structExpr":
      if (k.value.messageName) {
        fail(`message types such as ${k.value.messageName} are not available`);
      }
      for (const e of k.value.entries) {
        if (e.keyKind.case === "mapKey") walk(e.keyKind.value);
        walk(e.value);
      }
      return;
    case "comprehensionExpr": {
      const c = k.value;
      walk(c.iterRange);
      walk(c.accuInit);
      const inner = new Set([...scope, c.iterVar, c.iterVar2, c.accuVar].filter(Boolean));
      for (const e of [c.loopCondition, c.loopStep, c.result]) walk(e, inner);
      return;
    }
    case "callExpr":
      return checkCall(k.value, walk, options, fail, info);
    default:
      fail(`unsupported expression ${k.case}`);
  }
}

function checkCall(
  // deno-lint-ignore no-explicit-any
  call: any,
  walk: (n: unknown) => void,
  options: CompileOptions,
  fail: (detail: string) => never,
  info: CheckInfo,
): void {
  const name: string = call.function;
  walk(call.target);
  for (const a of call.args) walk(a);
  const arity = POLICY_FUNCTIONS[name];
  if (arity !== undefined) {
    if (call.target) fail(`${name}() is a function, not a method`);
    if (call.args.length !== arity) fail(`${name}() takes ${arity} arguments`);
    if (ASYNC_FUNCTIONS.has(name)) info.usesAsync = true;
    checkLiterals(name, call.args.map(literal), options, fail);
    return;
  }
  if (!SPECIAL_CALLS.has(name) && !options.env.funcs.find(name)) fail(`unknown function ${name}()`);
}

// deno-lint-ignore no-explicit-any
function literal(node: any): string | string[] | undefined {
  const k = node.exprKind;
  if (k.case === "constExpr" && k.value.constantKind.case === "stringValue") {
    return k.value.constantKind.value;
  }
  if (k.case === "listExpr") {
    const items = k.value.elements.map(literal);
    if (items.every((i: unknown) => typeof i === "string")) return items;
  }
  return undefined;
}

function checkLiterals(
  name: string,
  args: (string | string[] | undefined)[],
  options: CompileOptions,
  fail: (detail: string) => never,
): void {
  const [a, b] = args;
  if (["lookup", "lookup_list", "in_list"].includes(name) && typeof a === "string") {
    if (options.tables && !options.tables.has(a)) fail(`no lookup table named ${a}`);
  }
  if (name === "ratelimit" && typeof b === "string") {
    try {
      parseRate(b);
    } catch (e) {
      fail((e as Error).message);
    }
  }
  if (name === "in_cidr" && b !== undefined) {
    for (const net of typeof b === "string" ? b.split(/[\s,]+/).filter(Boolean) : b) {
      try {
        parseCidr(net);
      } catch (e) {
        fail((e as Error).message);
      }
    }
  }
}

// `a.b.c` for a chain of field selections on a name, else null.
// deno-lint-ignore no-explicit-any
function selectPath(node: any): string | null {
  const k = node.exprKind;
  if (k.case === "identExpr") return k.value.name;
  if (k.case !== "selectExpr" || k.value.testOnly) return null;
  const base = selectPath(k.value.operand);
  return base === null ? null : `${base}.${k.value.field}`;
}
