// Schemas of the sender authentication sections: `[spf]`, `[dkim]` with `[[dkim.sign]]`,
// `[dmarc]`, `[arc]` and `[srs]`. The shapes match lib/senderauth.
import { z } from "zod";
import { duration as ms } from "./schema_units.ts";

const domain = z.string().regex(
  /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/,
  "must be a domain name",
);

const spfSchema = z.strictObject({
  /** Check SPF at MAIL FROM (HELO for the null sender). */
  enabled: z.boolean().default(true),
  /** Record evaluated for `spf.guess` when a domain publishes none (Exim's spf_guess). */
  guess: z.string().startsWith("v=spf1").default("v=spf1 a/24 mx/24 ptr ?all"),
  /** Limit on one evaluation before temperror (RFC 7208 4.6.4). */
  timeout: ms.prefault("20s"),
  /** A deny/drop/defer rule reading `spf.*` after a temperror: 451 4.7.24, or evaluate it. */
  on_temperror: z.enum(["defer", "continue"]).default("defer"),
});

const dkimSignSchema = z.strictObject({
  /** Sender (From) domain this key signs for; also d=. */
  domain,
  /** Selector: the public key is at `<selector>._domainkey.<domain>`. */
  selector: z.string().regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, "must be a DKIM selector"),
  /** PEM private key file (RSA or Ed25519). */
  key_file: z.string().min(1),
  /** Default: from the key type. */
  algorithm: z.enum(["rsa-sha256", "ed25519-sha256"]).optional(),
  /** Header fields to sign when present; absent: the RFC 6376 5.4.1 list. */
  headers: z.array(z.string().regex(/^[!-9;-~]+$/)).optional(),
  /** Fields signed once more than present (RFC 6376 8.15). */
  oversign: z.array(z.string().regex(/^[!-9;-~]+$/)).default(["From"]),
  canonicalization: z.enum(["relaxed/relaxed", "relaxed/simple", "simple/relaxed", "simple/simple"])
    .default("relaxed/relaxed"),
});

const dkimSchema = z.strictObject({
  /** Verify signatures on arrival. */
  verify: z.boolean().default(true),
  /** Smallest RSA key accepted (RFC 8301). */
  min_key_bits: z.int().min(512).default(1024),
  /** Signing keys, one per sender domain. */
  sign: z.array(dkimSignSchema).default([]),
});

const dmarcSchema = z.strictObject({
  /** Check DMARC after DATA. */
  enabled: z.boolean().default(true),
  /** Record results for aggregate reports. */
  history: z.boolean().default(false),
  /** Envelope and From address of forensic reports; empty: none are sent. */
  forensic_sender: z.string().default(""),
  /** A deny/drop/defer rule reading `dmarc.*` after a temperror: 451 4.7.0, or evaluate it. */
  on_temperror: z.enum(["defer", "continue"]).default("defer"),
});

const arcSchema = z.strictObject({
  /** Verify ARC chains on arrival (`arc.result`). */
  verify: z.boolean().default(true),
  /** Seal mail from outside that the relay passes on (RFC 8617 5.1); empty domain: no seal. */
  seal_domain: z.union([z.literal(""), domain]).default(""),
  seal_selector: z.string().default(""),
  seal_key_file: z.string().default(""),
}).refine(
  (a) => a.seal_domain === "" || (a.seal_selector !== "" && a.seal_key_file !== ""),
  "seal_domain needs seal_selector and seal_key_file",
);

const srsSchema = z.strictObject({
  /** Domain of rewritten senders; empty turns SRS off. */
  domain: z.union([z.literal(""), domain]).default(""),
  /** Hash keys: the first signs, all are accepted (rotation). */
  secrets: z.array(z.string().min(8)).default([]),
  /** How long a bounce to an SRS address is accepted. */
  max_age_days: z.int().positive().max(1000).default(21),
}).refine((s) => s.domain === "" || s.secrets.length > 0, "srs.domain needs at least one secret");

/** The sender authentication sections, to spread into the root schema. */
export const senderauthSections = {
  spf: spfSchema.prefault({}),
  dkim: dkimSchema.prefault({}),
  dmarc: dmarcSchema.prefault({}),
  arc: arcSchema.prefault({}),
  srs: srsSchema.prefault({}),
};

/** `[spf]` after parsing (timeout in milliseconds). */
export type SpfConfig = z.output<typeof spfSchema>;
/** `[dkim]` after parsing. */
export type DkimConfig = z.output<typeof dkimSchema>;
/** One `[[dkim.sign]]` after parsing. */
export type DkimSignConfig = z.output<typeof dkimSignSchema>;
/** `[dmarc]` after parsing. */
export type DmarcConfig = z.output<typeof dmarcSchema>;
/** `[arc]` after parsing. */
export type ArcConfig = z.output<typeof arcSchema>;
/** `[srs]` after parsing. */
export type SrsConfig = z.output<typeof srsSchema>;

/** The sender authentication sections alone, for tests. */
export const senderauthConfigSchema = z.object(senderauthSections);
