/**
 * The message model every stage shares: sender, recipients with their delivery state, DSN
 * parameters, client, AUTH and TLS facts; message ids; a versioned codec checked by a schema.
 *
 * @module
 */
export * from "./envelope.ts";
export {
  decodeEnvelope,
  type EncodedEnvelope,
  encodeEnvelope,
  ENVELOPE_VERSION,
  EnvelopeFormatError,
  envelopeSchema,
} from "./codec.ts";
export { isMessageId, newMessageId } from "./message_id.ts";
