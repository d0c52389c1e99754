/** A spool operation failed; the message was not (or not wholly) stored. Always temporary. */
export class SpoolError extends Error {
  /** Spool failures are temporary for the SMTP client: it should try again later. */
  readonly temporary = true;
  /** Creates the error with a message and an optional cause. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "SpoolError";
  }
}
