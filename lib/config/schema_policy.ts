// Schemas of the policy part of the configuration: `[lookup.NAME]` tables, `[[acl.STAGE]]`
// rules and `[policy]`. Imported by schema.ts; the shapes match lib/lookup and lib/policy.
import { z } from "zod";
import { duration as ms } from "./schema_units.ts";

const cache = {
  /** How long a found value is cached; "0s" turns caching off. */
  cache_ttl: ms.prefault("60s"),
  /** How long an absent key is cached (negative caching). */
  negative_ttl: ms.prefault("10s"),
  /** Entries kept per table. */
  cache_size: z.int().positive().default(10_000),
};

const fileTable = z.strictObject({
  driver: z.literal("file"),
  path: z.string().min(1),
  mode: z.enum(["exact", "wildcard", "ip"]).default("wildcard"),
  check_interval: ms.prefault("1s"),
  ...cache,
});

const lmdbTable = z.strictObject({
  driver: z.literal("lmdb"),
  path: z.string().min(1),
  database: z.string().default(""),
  library: z.string().default("liblmdb.so.0"),
  check_interval: ms.prefault("1s"),
  ...cache,
});

const redisServer = z.string().regex(
  /^(\[[0-9A-Fa-f:.]+\]|[^/:\s]+)(:\d+)?(\/\d*(\/.*)?)?$/,
  "must be host:port/db/password, for example 127.0.0.1:6379/0/secret",
);

const redisTable = z.strictObject({
  driver: z.literal("redis"),
  servers: z.array(redisServer).min(1),
  command: z.union([z.string(), z.array(z.string())]).default(["GET"]).transform((c) =>
    typeof c === "string" ? c.trim().split(/\s+/) : c
  ).refine((c) => c.length > 0 && /^[A-Za-z.]+$/.test(c[0]), "must start with a Redis command"),
  key_prefix: z.string().default(""),
  timeout: ms.prefault("1s"),
  retry_delay: ms.prefault("1s"),
  ...cache,
});

const kvTable = z.strictObject({
  driver: z.literal("kv"),
  ...cache,
});

const dnsTable = z.strictObject({
  driver: z.literal("dns"),
  type: z.enum(["A", "AAAA", "TXT", "MX"]).default("TXT"),
  zone: z.string().default(""),
  reverse_ip: z.boolean().default(false),
  ...cache,
});

/** One `[lookup.NAME]` table; `driver` selects the other keys. */
export const lookupTableSchema = z.discriminatedUnion("driver", [
  fileTable,
  lmdbTable,
  redisTable,
  kvTable,
  dnsTable,
]);

/** Every `[lookup.NAME]` table, by name. */
export const lookupsSchema = z.record(
  z.string().regex(/^[A-Za-z_][A-Za-z0-9_-]*$/, "lookup names are letters, digits, _ and -"),
  lookupTableSchema,
);

/** The verbs of an ACL rule; each rule has exactly one, holding its CEL condition. */
export const ACL_VERBS = ["accept", "deny", "defer", "warn", "drop", "discard"] as const;

/** One `[[acl.STAGE]]` rule: one verb key with a CEL condition, plus what to say and do. */
export const aclRuleSchema = z.strictObject({
  accept: z.string().optional(),
  deny: z.string().optional(),
  defer: z.string().optional(),
  warn: z.string().optional(),
  drop: z.string().optional(),
  discard: z.string().optional(),
  message: z.string().regex(/^[^\r\n]*$/, "must be one line").optional(),
  log_message: z.string().optional(),
  add_header: z.union([z.string(), z.array(z.string())]).optional().transform((h) =>
    h === undefined ? [] : typeof h === "string" ? [h] : h
  ),
  set: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string()).default({}),
}).superRefine((rule, ctx) => {
  const verbs = ACL_VERBS.filter((v) => rule[v] !== undefined);
  if (verbs.length !== 1) {
    ctx.addIssue({
      code: "custom",
      message: `a rule needs exactly one of ${ACL_VERBS.join(", ")} (found ${
        verbs.length ? verbs.join(", ") : "none"
      })`,
    });
  }
  for (const h of rule.add_header ?? []) {
    if (!/^[!-9;-~]+:[^\r\n]*$/.test(h)) {
      ctx.addIssue({ code: "custom", message: `add_header "${h}" is not one "Name: value" line` });
    }
  }
});

const stage = z.array(aclRuleSchema).default([]);

/** The `[[acl.STAGE]]` lists; a stage left out uses the built-in behaviour. */
export const aclSchema = z.strictObject({
  connect: stage.optional(),
  helo: stage.optional(),
  mail: stage.optional(),
  rcpt: stage.optional(),
  predata: stage.optional(),
  data: stage.optional(),
  quit: stage.optional(),
  notquit: stage.optional(),
});

/** `[policy]`: engine settings. */
export const policySchema = z.strictObject({
  /** Empty: rate counters live in the relay's KV; else the name of a redis lookup to use. */
  ratelimit_lookup: z.string().default(""),
  /** Passes of lookup resolution per rule before giving up (nested lookups need more). */
  max_lookup_rounds: z.int().min(1).max(16).default(4),
});
