import { z } from "zod";
import type { Envelope } from "./envelope.ts";

/**
 * The envelope format written today. Version 0 is what relays before versioning wrote (the
 * same fields, no `v`); it is read as version 1. A higher version was written by a newer relay
 * and is refused rather than guessed at.
 */
export const ENVELOPE_VERSION = 1;

/** A stored envelope that cannot be read: a newer format, or a field that is wrong. */
export class EnvelopeFormatError extends Error {
  /** Always `EnvelopeFormatError`. */
  override name = "EnvelopeFormatError";
}

const recipient = z.looseObject({
  address: z.string(),
  notify: z.array(z.string()).optional(),
  orcpt: z.string().optional(),
  status: z.enum(["pending", "delivered", "deferred", "failed"]),
  attempts: z.number().int().nonnegative(),
  nextAttempt: z.number(),
  lastError: z.string().optional(),
});

/**
 * The schema of an envelope (version 1). Unknown fields are kept, so a field added within a
 * version survives a round trip through an older reader.
 */
export const envelopeSchema: z.ZodType<Envelope> = z.looseObject({
  id: z.string().min(1),
  sender: z.string(),
  recipients: z.array(recipient),
  dsn: z.looseObject({
    ret: z.enum(["FULL", "HDRS"]).optional(),
    envid: z.string().optional(),
  }),
  bodyType: z.enum(["7BIT", "8BITMIME", "BINARYMIME"]),
  smtputf8: z.boolean(),
  client: z.looseObject({
    ip: z.string(),
    port: z.number(),
    hostname: z.string().optional(),
    helo: z.string(),
  }),
  protocol: z.string(),
  tls: z.looseObject({
    version: z.string(),
    cipher: z.string(),
    bits: z.number().optional(),
  }).optional(),
  authUser: z.string().optional(),
  authMechanism: z.string().optional(),
  listener: z.string(),
  proxy: z.object({ ip: z.string(), port: z.number() }).optional(),
  received: z.number(),
  size: z.number().int().nonnegative(),
  chunks: z.number().int().nonnegative(),
  headSize: z.number().int().nonnegative().optional(),
  bodySha256: z.string().regex(/^[0-9a-f]{64}$/).optional(),
  frozen: z.string().optional(),
  srsSender: z.string().optional(),
  messageId: z.string().optional(),
}) as unknown as z.ZodType<Envelope>;

/** An envelope as stored or exported: the fields plus the format version. */
export type EncodedEnvelope = Envelope & { v: number };

/** Adds the format version to an envelope for storage or export. */
export function encodeEnvelope(e: Envelope): EncodedEnvelope {
  return { ...e, v: ENVELOPE_VERSION };
}

/**
 * Reads a stored or imported envelope: checks the version and every field.
 *
 * @param where names the record in errors (a spool key, a file name)
 * @throws {EnvelopeFormatError} for a newer version or an invalid field, naming the field
 */
export function decodeEnvelope(raw: unknown, where: string): Envelope {
  if (!raw || typeof raw !== "object") {
    throw new EnvelopeFormatError(`${where}: envelope is not an object`);
  }
  const { v, ...rest } = raw as { v?: unknown };
  const version = v === undefined ? 0 : v;
  if (typeof version !== "number" || !Number.isInteger(version) || version < 0) {
    throw new EnvelopeFormatError(`${where}: envelope version ${JSON.stringify(v)} is not valid`);
  }
  if (version > ENVELOPE_VERSION) {
    throw new EnvelopeFormatError(
      `${where}: envelope version ${version} is newer than this relay reads (${ENVELOPE_VERSION}); upgrade the relay`,
    );
  }
  const r = envelopeSchema.safeParse(rest);
  if (!r.success) {
    const issue = r.error.issues[0];
    const path = issue.path.map(String).join(".") || "(envelope)";
    throw new EnvelopeFormatError(`${where}: envelope field ${path}: ${issue.message}`);
  }
  return r.data;
}
