// The policy functions CEL conditions can call. CEL evaluation is synchronous and lookups
// are not, so functions that need I/O answer from a per-stage memo. A missing answer is
// recorded as pending and the call returns a placeholder (null, false, []) so the pass can
// go on and discover the other lookups it needs; the engine then resolves every pending
// call of the pass concurrently and evaluates again, until a pass needed nothing new. Only
// that last pass's result counts. ratelimit() has a side effect, so it is never run on a
// placeholder's say-so: it returns a CEL error while pending and is counted only when a
// pass with real answers for everything else still needs it (see engine.ts).
import {
  celError,
  type CelFunc,
  celFunc,
  type CelList,
  CelScalar,
  type CelValue,
  listType,
} from "@bufbuild/cel";
import { strings } from "@bufbuild/cel/ext";
import { CidrList } from "../net/mod.ts";
import { dnsbl, type DnsResolver, type LookupRegistry } from "../lookup/mod.ts";
import { parseRate, type RateLimiter } from "./ratelimit.ts";

/** Evaluates SPF for an address (or a bare domain) and IP: pass, fail, softfail ... */
export type SpfFunction = (address: string, ip: string) => Promise<string>;

/** Policy functions and their arities. */
export const POLICY_FUNCTIONS: Record<string, number> = {
  lookup: 2,
  lookup_list: 2,
  in_list: 2,
  in_cidr: 2,
  domain_in: 2,
  dnsbl: 2,
  ratelimit: 2,
  spf: 2,
};

/** Functions that do I/O (answered through rounds of resolution). */
export const ASYNC_FUNCTIONS: ReadonlySet<string> = new Set([
  "lookup",
  "lookup_list",
  "in_list",
  "dnsbl",
  "ratelimit",
  "spf",
]);

type Outcome = { ok: true; value: unknown } | { ok: false; error: Error };

/** The answers of one stage evaluation: memo of finished calls and the pending ones. */
export class EvalState {
  readonly #memo = new Map<string, Outcome>();
  readonly #pending = new Map<string, () => Promise<unknown>>();
  readonly #effects = new Map<string, () => Promise<unknown>>();
  /** Calls answered so far with their results, for the trace (`lookup(t, k) = "v"`). */
  readonly notes = new Map<string, string>();

  /** True when the last pass used a placeholder for a side-effect-free call. */
  get hasPending(): boolean {
    return this.#pending.size > 0;
  }

  /** True when the last pass reached a side-effecting call (ratelimit) it had no answer for. */
  get hasPendingEffects(): boolean {
    return this.#effects.size > 0;
  }

  /** The first failure among the calls made, if any. */
  failureOf(ids: Iterable<string>): Error | null {
    for (const id of ids) {
      const o = this.#memo.get(id);
      if (o && !o.ok) return o.error;
    }
    return null;
  }

  /** Records an answer known without waiting (a cache hit). */
  remember(id: string, label: string, value: unknown): unknown {
    if (!this.#memo.has(id)) {
      this.#memo.set(id, { ok: true, value });
      this.notes.set(id, `${label} = ${JSON.stringify(value)} (cached)`);
    }
    return value;
  }

  /** Starts a new pass: forgets what the previous pass left pending. */
  startPass(): void {
    this.#pending.clear();
    this.#effects.clear();
  }

  /**
   * The memoized answer (or its failure as a CEL error). When absent, records the call and
   * returns `placeholder`; for side-effecting calls (no placeholder) returns a CEL error.
   */
  answer(id: string, label: string, run: () => Promise<unknown>, placeholder?: unknown): unknown {
    const o = this.#memo.get(id);
    if (o) return o.ok ? o.value : celError(o.error);
    this.notes.set(id, `${label} = (pending)`);
    if (placeholder === undefined) {
      this.#effects.set(id, run);
      return celError(`pending ${label}`);
    }
    this.#pending.set(id, run);
    return placeholder;
  }

  /**
   * Runs the pending calls concurrently and memoizes answers and failures: the
   * side-effect-free ones, or with `effects` the side-effecting ones.
   */
  async resolve(labelOf: (id: string) => string, effects = false): Promise<void> {
    const calls = [...(effects ? this.#effects : this.#pending)];
    this.startPass();
    await Promise.all(calls.map(async ([id, run]) => {
      try {
        const value = await run();
        this.#memo.set(id, { ok: true, value });
        this.notes.set(id, `${labelOf(id)} = ${JSON.stringify(value)}`);
      } catch (e) {
        this.#memo.set(id, { ok: false, error: e as Error });
        this.notes.set(id, `${labelOf(id)} failed: ${(e as Error).message}`);
      }
    }));
  }
}

/** What the functions use, and the state of the evaluation running now. */
export interface FunctionDeps {
  lookups: LookupRegistry;
  resolver?: DnsResolver;
  ratelimiter?: RateLimiter;
  /** SPF result of any address and IP (`spf(address, ip)`), IPv4 or IPv6. */
  spf?: SpfFunction;
  /** Set by the engine around each synchronous CEL evaluation. */
  current: { state: EvalState | null };
}

// Call ids hold the arguments verbatim, JSON-encoded: keys are data, never split or parsed.
function callId(fn: string, ...args: string[]): string {
  return JSON.stringify([fn, ...args]);
}

/** Renders a call id as `fn("a", "b")` for traces. */
export function callLabel(id: string): string {
  const [fn, ...args] = JSON.parse(id) as string[];
  return `${fn}(${args.map((a) => JSON.stringify(a)).join(", ")})`;
}

function stateOf(deps: FunctionDeps): EvalState {
  if (!deps.current.state) throw new Error("policy function called outside an evaluation");
  return deps.current.state;
}

function strList(v: CelValue): string[] {
  if (typeof v === "string") return v.split(/[\s,]+/).filter(Boolean);
  return [...(v as CelList)].map(String);
}

/** Matches a domain against names and `*.example.org` patterns (`*` matches all). */
export function domainIn(domain: string, list: readonly string[]): boolean {
  const d = domain.toLowerCase();
  return list.some((p) => {
    const q = p.toLowerCase();
    return q === "*" || q === d || (q.startsWith("*.") && d.endsWith(q.slice(1)));
  });
}

/** Builds the CEL functions bound to the relay's tables, resolver and rate counters. */
export function policyFunctions(deps: FunctionDeps): CelFunc[] {
  const S = CelScalar.STRING;
  const L = listType(CelScalar.STRING);
  const cidrCache = new Map<string, CidrList>();
  const cidrs = (list: string[]) => {
    const k = list.join(",");
    let c = cidrCache.get(k);
    if (!c) {
      c = new CidrList(list);
      if (cidrCache.size > 1000) cidrCache.clear();
      cidrCache.set(k, c);
    }
    return c;
  };
  const get = (name: string, key: string) => {
    const id = callId("lookup", name, key);
    const cached = deps.lookups.get(name)?.peek(key);
    if (cached !== undefined) return stateOf(deps).remember(id, callLabel(id), cached);
    return stateOf(deps).answer(
      id,
      callLabel(id),
      () => deps.lookups.require(name).get(key),
      null,
    );
  };
  const list = (name: string, key: string) => {
    const id = callId("lookup_list", name, key);
    return stateOf(deps).answer(id, callLabel(id), async () => {
      const t = deps.lookups.require(name);
      if (t.members) return (await t.members(key)) ?? [];
      const v = await t.get(key);
      return v === null ? [] : [v];
    }, []);
  };
  const inCidr = (ip: string, nets: CelValue) => {
    try {
      return cidrs(strList(nets)).contains(ip);
    } catch (e) {
      return celError(e);
    }
  };
  return [
    ...strings,
    celFunc("lookup", [S, S], CelScalar.DYN, (n, k) => get(n, k) as string | null),
    celFunc("lookup_list", [S, S], L, (n, k) => list(n, k) as string[]),
    celFunc("in_list", [S, S], CelScalar.BOOL, (n, k) => {
      const v = get(n, k);
      return (typeof v === "string" || v === null ? v !== null : v) as boolean;
    }),
    celFunc("in_cidr", [S, L], CelScalar.BOOL, (ip, nets) => inCidr(ip, nets) as boolean),
    celFunc("in_cidr", [S, S], CelScalar.BOOL, (ip, nets) => inCidr(ip, nets) as boolean),
    celFunc("domain_in", [S, L], CelScalar.BOOL, (d, l) => domainIn(d, strList(l))),
    celFunc("domain_in", [S, S], CelScalar.BOOL, (d, l) => domainIn(d, strList(l))),
    celFunc("dnsbl", [S, S], CelScalar.BOOL, (zone, ip) => {
      const id = callId("dnsbl", zone, ip);
      return stateOf(deps).answer(id, callLabel(id), () => {
        if (!deps.resolver) throw new Error("dnsbl() needs a DNS resolver");
        return dnsbl(deps.resolver, zone, ip);
      }, false) as boolean;
    }),
    celFunc("spf", [S, S], CelScalar.STRING, (address, ip) => {
      const id = callId("spf", address, ip);
      return stateOf(deps).answer(id, callLabel(id), () => {
        if (!deps.spf) throw new Error("spf() needs the relay's resolver");
        return deps.spf(address, ip);
      }, "none") as string;
    }),
    celFunc("ratelimit", [S, S], CelScalar.BOOL, (key, rate) => {
      const id = callId("ratelimit", key, rate);
      return stateOf(deps).answer(id, callLabel(id), () => {
        if (!deps.ratelimiter) throw new Error("ratelimit() needs a rate counter store");
        return deps.ratelimiter.hit(key, parseRate(rate));
      }) as boolean;
    }),
  ];
}
