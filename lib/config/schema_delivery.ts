/**
 * Schemas of the delivery sections: `[dns]`, `[[route]]`, `[transport.NAME]`, `[[retry]]`
 * and `[queue]`. Durations come out in milliseconds.
 *
 * @module
 */
import { z } from "zod";
import { parseHostPort } from "../net/mod.ts";
import { duration as ms } from "./schema_units.ts";
import { parseDuration } from "./units.ts";

const server = z.string().superRefine((v, ctx) => {
  try {
    parseHostPort(v, 53);
  } catch (e) {
    ctx.addIssue({ code: "custom", message: (e as Error).message });
  }
});

/** A domain pattern: `example.org`, `*.example.org` or `*`. */
const domainPattern = z.string().regex(
  /^(\*|(\*\.)?[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.?)$/,
  'must be a domain, "*.domain" or "*"',
).transform((d) => d.toLowerCase().replace(/\.$/, ""));

const domains = z.union([domainPattern, z.array(domainPattern).min(1)]).transform((d) =>
  Array.isArray(d) ? d : [d]
);

/** `[dns]`: the resolver used for MX, addresses and TLSA. */
export const dnsSchema = z.strictObject({
  /** Servers as `host:port`; empty means /etc/resolv.conf. */
  servers: z.array(server).default([]),
  timeout: ms.prefault("5s"),
  attempts: z.int().min(1).max(10).default(2),
  cache: z.boolean().default(true),
  /** Address families for delivery. */
  family: z.enum(["both", "ipv4", "ipv6"]).default("both"),
  prefer_ipv6: z.boolean().default(false),
  /**
   * Servers (`host` or `host:port`) trusted to validate DNSSEC: only their AD bit counts for
   * DANE. Absent: the loopback servers among `servers` (a validating resolver on this host).
   */
  dnssec_trusted: z.array(z.string().min(1)).optional(),
  /** A DNSSEC-signed name checked at start (and by check-config) when DANE is configured. */
  dnssec_probe: z.string().default(""),
});

/** One `[[route]]`: recipients whose domain matches go to the named transport. */
export const routeSchema = z.strictObject({
  /** Domain patterns; may be left out when `lookup` is given. */
  domains: domains.default([]),
  /** A `[lookup.NAME]` table whose keys are domains for this route. */
  lookup: z.string().min(1).optional(),
  transport: z.string().min(1),
}).refine((r) => r.domains.length > 0 || r.lookup !== undefined, {
  message: "a route needs domains or a lookup",
});

/**
 * Transport TLS levels (Postfix's smtp_tls_security_level names), then the older names
 * `opportunistic`, `require` and `off` that still work as may, encrypt and none.
 */
export const TLS_LEVEL_NAMES = [
  "none",
  "may",
  "encrypt",
  "verify",
  "dane",
  "dane-only",
  "opportunistic",
  "require",
  "off",
] as const;

/** `[transport.NAME]`: how to deliver (smtp by MX or to smarthosts, discard, fail). */
export const transportSchema = z.strictObject({
  driver: z.enum(["smtp", "discard", "fail"]).default("smtp"),
  /** Smarthosts as `host:port`; empty means delivery by MX. */
  hosts: z.array(
    z.string().superRefine((v, ctx) => {
      try {
        parseHostPort(v, 25);
      } catch (e) {
        ctx.addIssue({ code: "custom", message: (e as Error).message });
      }
    }),
  ).default([]),
  /** Port for delivery by MX. */
  port: z.int().min(1).max(65535).default(25),
  /** TLS security level: none, may, encrypt, verify, dane, dane-only (see config.example.toml). */
  tls: z.enum(TLS_LEVEL_NAMES).default("may").transform((v) =>
    v === "opportunistic" ? "may" : v === "require" ? "encrypt" : v === "off" ? "none" : v
  ),
  /** Trust anchors (PEM) for tls = "verify"; empty: the system CA bundle. */
  tls_ca_file: z.string().default(""),
  /** AUTH PLAIN/LOGIN credentials for smarthosts. */
  username: z.string().default(""),
  password: z.string().default(""),
  connect_timeout: ms.prefault("30s"),
  command_timeout: ms.prefault("5m"),
  data_timeout: ms.prefault("10m"),
  /** Open connections per host. */
  max_per_host: z.int().min(1).default(10),
  /** Keep an idle connection this long for the next message (0s: never reuse). */
  idle_timeout: ms.prefault("5s"),
  /** Text for `driver = "fail"`. */
  message: z.string().regex(/^[^\r\n]*$/, "must be one line").default(
    "Recipient address rejected by routing rule",
  ),
});

const RETRY_RULE = /^\s*(F\s*,\s*\w+\s*,\s*\w+|G\s*,\s*\w+\s*,\s*\w+\s*,\s*\d+(\.\d+)?)\s*$/i;

/** One `[[retry]]`: Exim-style rules for domains (`F,2h,15m`, `G,16h,1h,1.5`). */
export const retrySchema = z.strictObject({
  domains,
  rules: z.array(
    z.string().superRefine((v, ctx) => {
      if (!RETRY_RULE.test(v)) {
        ctx.addIssue({
          code: "custom",
          message: `"${v}" is not a retry rule like F,2h,15m or G,16h,1h,1.5`,
        });
        return;
      }
      for (const part of v.split(",").slice(1, 3)) {
        try {
          parseDuration(part.trim());
        } catch (e) {
          ctx.addIssue({ code: "custom", message: (e as Error).message });
        }
      }
    }),
  ).min(1),
});

/** `[queue]`: the queue runner. */
export const queueSchema = z.strictObject({
  /** false: accept and queue only (Exim's queue_only); deliver with `relay queue run --once`. */
  deliver: z.boolean().default(true),
  /** Look through the whole queue at least this often. */
  interval: ms.prefault("1m"),
  /** Deliveries in flight at once. */
  concurrency: z.int().min(1).default(20),
  /** Deliveries in flight per recipient domain. */
  max_per_domain: z.int().min(1).default(10),
  /** Send a delay warning after this long (0s: never). */
  delay_warning: ms.prefault("0s"),
  /** First wait before retrying a host that refused connections (doubles up to the max). */
  host_retry: ms.prefault("1m"),
  host_retry_max: ms.prefault("1h"),
});

/** The delivery sections as they sit in the root config schema. */
export const deliverySections = {
  dns: dnsSchema.prefault({}),
  route: z.array(routeSchema).default([]),
  transport: z.record(z.string().regex(/^[A-Za-z0-9_-]+$/), transportSchema).default({}),
  retry: z.array(retrySchema).default([]),
  queue: queueSchema.prefault({}),
};

/** `[dns]` after parsing. */
export type DnsConfig = z.output<typeof dnsSchema>;
/** One `[[route]]` after parsing. */
export type RouteConfig = z.output<typeof routeSchema>;
/** One `[transport.NAME]` after parsing. */
export type TransportConfig = z.output<typeof transportSchema>;
/** One `[[retry]]` after parsing. */
export type RetryConfig = z.output<typeof retrySchema>;
/** `[queue]` after parsing. */
export type QueueConfig = z.output<typeof queueSchema>;

/** The delivery part of the configuration. */
export interface DeliveryConfig {
  dns: DnsConfig;
  route: RouteConfig[];
  transport: Record<string, TransportConfig>;
  retry: RetryConfig[];
  queue: QueueConfig;
}

/** Parses the delivery sections alone (for tests and tools); unknown keys are ignored. */
export const deliveryConfigSchema = z.object(deliverySections);
