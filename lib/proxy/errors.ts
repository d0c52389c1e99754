/** A PROXY protocol header is malformed; the connection must not be trusted. Never temporary. */
export class ProxyHeaderError extends Error {
  /** The reason without the common prefix, e.g. `v1 line exceeds 107 bytes`. */
  readonly reason: string;
  /** A bad header never gets better by retrying on the same connection. */
  readonly temporary = false;
  /** Creates the error; the message reads `Cannot parse PROXY header: <reason>`. */
  constructor(reason: string) {
    super(`Cannot parse PROXY header: ${reason}`);
    this.name = "ProxyHeaderError";
    this.reason = reason;
  }
}
