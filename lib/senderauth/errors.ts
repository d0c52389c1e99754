/**
 * A DNS answer as mailauth expects it from node's `dns.promises.resolve`: failures carry a node
 * error code (ENOTFOUND, ENODATA, ESERVFAIL, ETIMEOUT, EREFUSED, ECONNREFUSED, EBADRESP).
 */
export class DnsLookupError extends Error {
  /** The node-style error code mailauth switches on. */
  readonly code: string;
  /** True when asking again later may help (not for ENOTFOUND/ENODATA). */
  readonly temporary: boolean;

  /** Creates the error for `name`/`type` with a node-style `code`. */
  constructor(code: string, name: string, type: string, options: { cause?: unknown } = {}) {
    super(`Cannot resolve ${name} ${type}: ${code}`, options);
    this.name = "DnsLookupError";
    this.code = code;
    this.temporary = code !== "ENOTFOUND" && code !== "ENODATA";
  }
}

/** Why an SRS address was refused. */
export type SrsFailure = "syntax" | "forged" | "expired";

/** An SRS address could not be reversed: not SRS, bad hash (forged) or too old (expired). */
export class SrsError extends Error {
  /** What was wrong with the address. */
  readonly failure: SrsFailure;

  /** Creates the error; `failure` tells the caller what to say in the bounce reply. */
  constructor(failure: SrsFailure, message: string) {
    super(message);
    this.name = "SrsError";
    this.failure = failure;
  }
}

/** A DKIM signature could not be made (bad key, algorithm or options); never temporary. */
export class DkimSignError extends Error {
  /** mailauth's error code, such as EINVALIDALGO or ESHORTKEY, when it gave one. */
  readonly code?: string;

  /** Creates the error with mailauth's `code`. */
  constructor(message: string, options: { code?: string; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = "DkimSignError";
    this.code = options.code;
  }
}
