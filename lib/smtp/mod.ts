/**
 * SMTP protocol pieces as pure functions over text and bytes: replies, command and path
 * parsing, ESMTP parameters, xtext, and the DATA decoder. No I/O here.
 *
 * @module
 */
export { type Command, parseCommand } from "./command.ts";
export { type BareNewline, DotDecoder } from "./dot_decoder.ts";
export { BareNewlineFilter } from "./bare_newline.ts";
export { SmtpSyntaxError } from "./errors.ts";
export {
  isAddressLiteral,
  isNonAscii,
  isValidHelo,
  mailboxProblem,
  parseParams,
  parsePathArg,
  type PathArg,
  splitAddress,
} from "./path.ts";
export { Reply, reply } from "./reply.ts";
export { decodeXtext, encodeXtext } from "./xtext.ts";
