import type { AddressContext, PolicyContext, VarValue } from "./types.ts";

/** Input for {@linkcode makeContext}: any part of the context; the rest gets empty values. */
export type PolicyContextInit = {
  [K in keyof PolicyContext]?: PolicyContext[K] extends Record<string, unknown>
    ? Partial<PolicyContext[K]>
    : PolicyContext[K];
};

/**
 * Splits `local@domain` at the last `@`; the domain is lower-cased. A bare local part
 * (`postmaster`) has an empty domain; the null sender gives three empty strings.
 */
export function splitAddress(address: string): AddressContext {
  const at = address.lastIndexOf("@");
  if (at < 0) return { address, local: address, domain: "" };
  return { address, local: address.slice(0, at), domain: address.slice(at + 1).toLowerCase() };
}

/**
 * Builds a full context from the parts a stage knows; missing fields are empty strings,
 * 0, false or empty maps, so conditions never meet an absent field.
 *
 * @example Usage
 * ```ts
 * const ctx = makeContext({ client: { ip: "192.0.2.1" }, rcpt: splitAddress("a@example.org") });
 * ```
 */
export function makeContext(init: PolicyContextInit = {}): PolicyContext {
  return {
    client: { ip: "", port: 0, hostname: "", helo: "", ...init.client },
    tls: { version: "", cipher: "", sni: "", peer_subject: "", ...init.tls },
    auth: { user: "", ...init.auth },
    authenticated: init.authenticated ?? Boolean(init.auth?.user),
    sender: { address: "", local: "", domain: "", ...init.sender },
    rcpt: { address: "", local: "", domain: "", ...init.rcpt },
    rcpts: init.rcpts ?? [],
    message: { size: 0, headers: {}, ...init.message },
    proxy: { ...init.proxy } as Record<string, string | number | boolean>,
    spf: { result: "none", ...init.spf } as Record<string, string>,
    dkim: { result: "none", ...init.dkim } as Record<string, string>,
    dmarc: { result: "none", ...init.dmarc } as Record<string, string>,
    arc: { result: "none", ...init.arc } as Record<string, string>,
    vars: { ...init.vars } as Record<string, VarValue>,
    relay: { hostname: "", domains: [], trusted_networks: [], ...init.relay },
  };
}

/** Variables named `m_*` live for one message; the session clears them at RSET and after DATA. */
export function isMessageVar(name: string): boolean {
  return name.startsWith("m_");
}

/** The variables without the per-message ones (what survives the end of a transaction). */
export function connectionVars(vars: Record<string, VarValue>): Record<string, VarValue> {
  return Object.fromEntries(Object.entries(vars).filter(([k]) => !isMessageVar(k)));
}

/** A value as CEL reads it fastest: plain objects become Maps (about twice as fast). */
function toCel(v: unknown): unknown {
  if (v === null || typeof v !== "object" || Array.isArray(v) || v instanceof Map) return v;
  const m = new Map<string, unknown>();
  const o = v as Record<string, unknown>;
  for (const k in o) m.set(k, toCel(o[k]));
  return m;
}

/** The context as evaluation bindings: top-level names, nested objects as Maps. */
export function toBindings(ctx: PolicyContext): Record<string, unknown> {
  const c = ctx as unknown as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k in c) out[k] = toCel(c[k]);
  return out;
}

/** Reads `a.b.c` from bindings (Maps or objects); undefined when absent. */
export function valueAt(root: unknown, path: string): unknown {
  let v: unknown = root;
  for (const part of path.split(".")) {
    if (v instanceof Map) v = v.get(part);
    else v = v !== null && typeof v === "object" ? (v as Record<string, unknown>)[part] : undefined;
  }
  return v;
}
