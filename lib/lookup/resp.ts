// A small RESP2 client (Redis serialization protocol) over Deno.connect: commands are
// arrays of bulk strings, so a key is always one argument and never part of a command text.
// https://redis.io/docs/latest/develop/reference/protocol-spec/

/** A reply: simple/bulk string, integer, nil, array, or an error reply. */
export type RespValue = string | number | null | RespValue[] | RespErrorReply;

/** An error reply from the server (`-ERR ...`); returned, not thrown. */
export class RespErrorReply {
  /** The server's text, for example `WRONGTYPE Operation against a key ...`. */
  readonly message: string;
  /** Wraps the text. */
  constructor(message: string) {
    this.message = message;
  }
}

/** The connection failed, closed or timed out; every pending command gets this error. */
export class RespConnectionError extends Error {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "RespConnectionError";
  }
}

const CRLF = new Uint8Array([13, 10]);
const enc = new TextEncoder();
const dec = new TextDecoder();

/** Serializes a command as a RESP array of bulk strings. */
export function encodeCommand(args: readonly (string | Uint8Array)[]): Uint8Array {
  const parts: Uint8Array[] = [enc.encode(`*${args.length}\r\n`)];
  for (const a of args) {
    const bytes = typeof a === "string" ? enc.encode(a) : a;
    parts.push(enc.encode(`$${bytes.length}\r\n`), bytes, CRLF);
  }
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  n = 0;
  for (const p of parts) out.set(p, n), n += p.length;
  return out;
}

/**
 * Parses one reply from `buf` at `pos`. Returns the value and the position after it, or
 * undefined when the buffer does not hold a whole reply yet.
 */
export function parseReply(buf: Uint8Array, pos: number): [RespValue, number] | undefined {
  const eol = buf.indexOf(10, pos);
  if (eol < 0) return undefined;
  const line = dec.decode(buf.subarray(pos + 1, eol - 1));
  const next = eol + 1;
  switch (buf[pos]) {
    case 43: // +
      return [line, next];
    case 45: // -
      return [new RespErrorReply(line), next];
    case 58: // :
      return [Number(line), next];
    case 36: { // $
      const len = Number(line);
      if (len < 0) return [null, next];
      if (buf.length < next + len + 2) return undefined;
      return [dec.decode(buf.subarray(next, next + len)), next + len + 2];
    }
    case 42: { // *
      const count = Number(line);
      if (count < 0) return [null, next];
      const items: RespValue[] = [];
      let p = next;
      for (let i = 0; i < count; i++) {
        const r = parseReply(buf, p);
        if (!r) return undefined;
        items.push(r[0]);
        p = r[1];
      }
      return [items, p];
    }
    default:
      throw new RespConnectionError(`Cannot parse Redis reply: unexpected byte ${buf[pos]}`);
  }
}

interface Pending {
  resolve: (v: RespValue) => void;
  reject: (e: Error) => void;
}

/** One pipelined connection to a Redis server. */
export class RespConnection {
  readonly #conn: Deno.TcpConn;
  readonly #pending: Pending[] = [];
  #buf = new Uint8Array(0);
  #closed: Error | null = null;

  private constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
    conn.setNoDelay(true);
    this.#readLoop();
  }

  /**
   * Connects within `timeout` milliseconds.
   *
   * @throws {RespConnectionError} on refusal or timeout
   */
  static async connect(hostname: string, port: number, timeout: number): Promise<RespConnection> {
    const signal = AbortSignal.timeout(timeout);
    try {
      return new RespConnection(
        await Deno.connect({ hostname, port, signal } as Deno.ConnectOptions),
      );
    } catch (e) {
      const why = signal.aborted ? `timed out after ${timeout} ms` : (e as Error).message;
      throw new RespConnectionError(`Cannot connect to Redis ${hostname}:${port}: ${why}`, {
        cause: e,
      });
    }
  }

  /** True once the connection failed or was closed. */
  get closed(): boolean {
    return this.#closed !== null;
  }

  /**
   * Sends one command and waits for its reply. A timeout closes the connection (its
   * replies can no longer be matched to commands).
   *
   * @throws {RespConnectionError} on timeout or connection loss
   */
  command(args: readonly (string | Uint8Array)[], timeout: number): Promise<RespValue> {
    if (this.#closed) return Promise.reject(this.#closed);
    return new Promise<RespValue>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#fail(new RespConnectionError(`Redis command timed out after ${timeout} ms`));
      }, timeout);
      this.#pending.push({
        resolve: (v) => (clearTimeout(timer), resolve(v)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      this.#write(encodeCommand(args));
    });
  }

  /** Closes the connection; pending commands fail. */
  close(): void {
    this.#fail(new RespConnectionError("Redis connection closed"));
  }

  async #write(bytes: Uint8Array): Promise<void> {
    try {
      let n = 0;
      while (n < bytes.length) n += await this.#conn.write(bytes.subarray(n));
    } catch (e) {
      this.#fail(new RespConnectionError(`Redis write failed: ${(e as Error).message}`));
    }
  }

  async #readLoop(): Promise<void> {
    const chunk = new Uint8Array(64 * 1024);
    try {
      while (true) {
        const n = await this.#conn.read(chunk);
        if (n === null) throw new RespConnectionError("Redis server closed the connection");
        this.#append(chunk.subarray(0, n));
        let pos = 0;
        while (pos < this.#buf.length) {
          const r = parseReply(this.#buf, pos);
          if (!r) break;
          pos = r[1];
          const p = this.#pending.shift();
          if (!p) throw new RespConnectionError("Redis sent a reply nobody asked for");
          p.resolve(r[0]);
        }
        this.#buf = this.#buf.subarray(pos);
      }
    } catch (e) {
      this.#fail(
        e instanceof RespConnectionError
          ? e
          : new RespConnectionError(`Redis read failed: ${(e as Error).message}`),
      );
    }
  }

  #append(bytes: Uint8Array): void {
    if (this.#buf.length === 0) {
      this.#buf = bytes.slice();
      return;
    }
    const b = new Uint8Array(this.#buf.length + bytes.length);
    b.set(this.#buf);
    b.set(bytes, this.#buf.length);
    this.#buf = b;
  }

  #fail(e: Error): void {
    if (this.#closed) return;
    this.#closed = e;
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
    for (const p of this.#pending.splice(0)) p.reject(e);
  }
}
