import { parseHostPort } from "../net/mod.ts";
import { RespConnection, RespConnectionError, RespErrorReply, type RespValue } from "./resp.ts";
import { type Lookup, LookupDeferError, LookupError, type LookupValue } from "./types.ts";

/** One server of a `servers` list: `host:port/db/password` (Exim's `redis_servers`). */
export interface RedisServer {
  hostname: string;
  port: number;
  db: number;
  password: string;
}

/** Options of {@linkcode RedisLookup}. */
export interface RedisLookupOptions {
  /** Table name for messages. */
  name: string;
  /** Servers tried in order when one fails: `host:port`, `host:port/db`, `host:port/db/password`. */
  servers: readonly string[];
  /**
   * The command run for a key, one array element per argument: `["GET"]`,
   * `["HGET", "domains"]`, `["SISMEMBER", "blocked"]`. An element exactly `{key}` is replaced
   * by the key; otherwise the key is appended as the last argument. Default `["GET"]`.
   */
  command?: readonly string[];
  /** Text put before every key (`domain:`), as part of the same argument. */
  keyPrefix?: string;
  /** Milliseconds for connecting and for each command. Default 1000. */
  timeout?: number;
  /** Milliseconds a failed server is skipped before it is tried again. Default 1000. */
  retryDelay?: number;
}

// Commands whose integer answer 0 means "not there" and 1 means "there".
const MEMBERSHIP = new Set(["SISMEMBER", "HEXISTS", "EXISTS", "SMISMEMBER"]);

/**
 * Parses `host:port/db/password` (port 6379, db 0 and no password by default).
 *
 * @throws {LookupError} when the text is not a server
 */
export function parseRedisServer(text: string): RedisServer {
  const [hp, db = "", ...rest] = text.split("/");
  try {
    const { host, port } = parseHostPort(hp, 6379);
    if (db !== "" && !/^\d+$/.test(db)) throw new Error(`database "${db}" is not a number`);
    return { hostname: host, port, db: Number(db || 0), password: rest.join("/") };
  } catch (e) {
    throw new LookupError(`Cannot parse Redis server "${text}": ${(e as Error).message}`);
  }
}

interface ServerState {
  server: RedisServer;
  conn: Promise<RespConnection> | null;
  downUntil: number;
}

/**
 * Lookups (and writes, through {@linkcode RedisLookup.call}) against Redis. The key is
 * always a separate argument. Timeouts, refused connections and lost connections move on
 * to the next server; when none answers the lookup throws {@linkcode LookupDeferError}.
 */
export class RedisLookup implements Lookup {
  readonly name: string;
  readonly driver = "redis";
  readonly #servers: ServerState[];
  readonly #command: readonly string[];
  readonly #prefix: string;
  readonly #timeout: number;
  readonly #retryDelay: number;

  /** Parses the options; connections open on first use. */
  constructor(options: RedisLookupOptions) {
    this.name = options.name;
    if (options.servers.length === 0) {
      throw new LookupError(`Lookup ${options.name}: redis needs at least one server`);
    }
    this.#servers = options.servers.map((s) => ({
      server: parseRedisServer(s),
      conn: null,
      downUntil: 0,
    }));
    this.#command = options.command?.length ? options.command : ["GET"];
    this.#prefix = options.keyPrefix ?? "";
    this.#timeout = options.timeout ?? 1000;
    this.#retryDelay = options.retryDelay ?? 1000;
  }

  /** Runs the command for the key; lists are joined with newlines, 0 of SISMEMBER is null. */
  async get(key: string): Promise<LookupValue> {
    return toValue(this.#command[0], await this.#lookup(key));
  }

  /** Runs the command for the key and returns a list (an empty set is null). */
  async members(key: string): Promise<string[] | null> {
    const v = await this.#lookup(key);
    if (Array.isArray(v)) return v.length ? v.map(String) : null;
    const s = toValue(this.#command[0], v);
    return s === null ? null : [s];
  }

  /**
   * Runs any command (`["INCR", key]`, `["SET", key, value, "PX", "60000"]`) on the first
   * server that answers. Error replies come back as {@linkcode RespErrorReply}.
   *
   * @throws {LookupDeferError} when no server answers in time
   */
  async call(args: readonly string[]): Promise<RespValue> {
    const failures: string[] = [];
    const now = Date.now();
    const usable = this.#servers.filter((s) => s.downUntil <= now);
    for (const state of usable.length ? usable : this.#servers) {
      try {
        const conn = await this.#connection(state);
        return await conn.command(args, this.#timeout);
      } catch (e) {
        state.conn = null;
        state.downUntil = Date.now() + this.#retryDelay;
        failures.push((e as Error).message);
        if (!(e instanceof RespConnectionError)) throw e;
      }
    }
    throw new LookupDeferError(
      `Lookup ${this.name}: no Redis server answered: ${failures.join("; ")}`,
    );
  }

  /** Closes every connection. */
  async close(): Promise<void> {
    for (const s of this.#servers) {
      const c = s.conn;
      s.conn = null;
      if (c) (await c.catch(() => null))?.close();
    }
  }

  async #lookup(key: string): Promise<RespValue> {
    const k = this.#prefix + key;
    const args = this.#command.includes("{key}")
      ? this.#command.map((a) => (a === "{key}" ? k : a))
      : [...this.#command, k];
    const v = await this.call(args);
    if (v instanceof RespErrorReply) {
      throw new LookupDeferError(`Lookup ${this.name}: Redis answered ${v.message}`);
    }
    return v;
  }

  #connection(state: ServerState): Promise<RespConnection> {
    if (state.conn) {
      const c = state.conn;
      return c.then((conn) => (conn.closed ? this.#open(state) : conn));
    }
    return this.#open(state);
  }

  #open(state: ServerState): Promise<RespConnection> {
    const { hostname, port, db, password } = state.server;
    const p = (async () => {
      const conn = await RespConnection.connect(hostname, port, this.#timeout);
      const setup: string[][] = [];
      if (password) setup.push(["AUTH", password]);
      if (db) setup.push(["SELECT", String(db)]);
      for (const cmd of setup) {
        const r = await conn.command(cmd, this.#timeout);
        if (r instanceof RespErrorReply) {
          conn.close();
          throw new RespConnectionError(
            `Redis ${hostname}:${port} refused ${cmd[0]}: ${r.message}`,
          );
        }
      }
      return conn;
    })();
    state.conn = p;
    p.catch(() => {
      if (state.conn === p) state.conn = null;
    });
    return p;
  }
}

function toValue(command: string, v: RespValue): LookupValue {
  if (v === null || v instanceof RespErrorReply) return null;
  if (Array.isArray(v)) return v.length ? v.map(String).join("\n") : null;
  if (typeof v === "number") {
    if (MEMBERSHIP.has(command.toUpperCase())) return v === 0 ? null : String(v);
    return String(v);
  }
  return v;
}
