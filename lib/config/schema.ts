import { z } from "zod";
import { cidr, duration, hostPort, size } from "./schema_units.ts";
import { deliverySections } from "./schema_delivery.ts";
import { aclSchema, lookupsSchema, policySchema } from "./schema_policy.ts";
import { senderauthSections } from "./schema_senderauth.ts";

const domainName = z.string().regex(
  /^(\*\.)?[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.?$/,
  "must be a domain name such as example.org",
).transform((d) => d.toLowerCase().replace(/\.$/, ""));

const server = z.strictObject({
  hostname: z.string().default(""),
  spool: z.string().min(1).default("./data"),
  spool_min_free: size.prefault("100M"),
  local_domains: z.array(domainName).default([]),
  relay_domains: z.array(domainName).default([]),
  trusted_networks: z.array(cidr).default(["127.0.0.0/8", "::1/128"]),
  reverse_dns: z.boolean().default(true),
  max_connections: z.int().positive().default(1000),
  max_connections_per_ip: z.int().positive().default(50),
  /** Of max_connections, slots only trusted clients and submission listeners may take. */
  reserved_connections: z.int().min(0).optional(),
  shutdown_timeout: duration.prefault("30s"),
  user: z.string().default(""),
  group: z.string().default(""),
}).refine((s) => (s.reserved_connections ?? 0) < s.max_connections, {
  message: "must be less than max_connections",
  path: ["reserved_connections"],
}).transform((s) => ({
  ...s,
  // Default: 5% of max_connections, at most 50.
  reserved_connections: s.reserved_connections ??
    Math.min(50, Math.floor(s.max_connections / 20)),
}));

const smtp = z.strictObject({
  banner: z.string().regex(/^[^\r\n]*$/, "must be one line").default("ESMTP"),
  max_message_size: size.prefault("50M"),
  max_recipients: z.int().positive().default(100),
  max_line_length: z.int().min(512).default(2048),
  command_timeout: duration.prefault("5m"),
  data_timeout: duration.prefault("3m"),
  max_errors: z.int().positive().default(10),
  greeting_delay: duration.prefault("0s"),
  bare_newline: z.enum(["normalize", "reject"]).default("normalize"),
  sync_check: z.boolean().default(true),
});

const auth = z.strictObject({
  credentials: z.string().default(""),
  mechanisms: z.array(z.enum(["PLAIN", "LOGIN"])).default(["PLAIN", "LOGIN"]),
  max_failures: z.int().positive().default(3),
  failure_delay: duration.prefault("1s"),
  ip_max_failures: z.int().positive().default(10),
  ip_window: duration.prefault("15m"),
});

const sniCertificate = z.strictObject({
  certificate: z.string().min(1),
  private_key: z.string().min(1),
  /** SNI names it serves (`*.example.org` allowed); empty: the certificate's own DNS names. */
  names: z.array(z.string().min(1)).default([]),
});

const tls = z.strictObject({
  /** One chain file (with `private_key`), or `[[tls.certificate]]` entries chosen by SNI. */
  certificate: z.union([z.string(), z.array(sniCertificate).min(1)]).default(""),
  private_key: z.string().default(""),
  min_version: z.enum(["TLSv1.2", "TLSv1.3"]).default("TLSv1.2"),
});

const listen = z.strictObject({
  address: hostPort,
  role: z.enum(["mta", "submission"]).default("mta"),
  starttls: z.boolean().default(true),
  auth: z.boolean().default(true),
  auth_without_tls: z.boolean().default(false),
  require_auth: z.boolean().default(false),
  proxy_protocol: z.boolean().default(false),
});

const proxy = z.strictObject({
  trusted: z.array(cidr).default([]),
  trusted_lookup: z.string().default(""),
  timeout: duration.prefault("3s"),
});

const log = z.strictObject({
  format: z.enum(["text", "json"]).default("text"),
  file: z.string().default(""),
  level: z.enum(["debug", "info", "warn", "error"]).default("info"),
  proxy: z.boolean().default(false),
});

/** The whole configuration file. Every section is optional; defaults fill the rest. */
export const configSchema = z.strictObject({
  server: server.prefault({}),
  smtp: smtp.prefault({}),
  auth: auth.prefault({}),
  tls: tls.prefault({}),
  listen: z.array(listen).min(1).default([{
    address: "127.0.0.1:2525",
    role: "mta",
    starttls: true,
    auth: true,
    auth_without_tls: false,
    require_auth: false,
    proxy_protocol: false,
  }]),
  proxy: proxy.prefault({}),
  log: log.prefault({}),
  lookup: lookupsSchema.default({}),
  acl: aclSchema.prefault({}),
  policy: policySchema.prefault({}),
  ...deliverySections,
  ...senderauthSections,
});

/** The parsed configuration, durations in milliseconds and sizes in bytes. */
export type Config = z.output<typeof configSchema>;
/** One `[[listen]]` entry. */
export type ListenConfig = Config["listen"][number];
