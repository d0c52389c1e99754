/**
 * A real, private redis-server for tests and benchmarks: loopback only, a free port, no
 * persistence, `DEBUG` enabled so tests can make it slow (`DEBUG SLEEP`). It can be stopped
 * and started again on the same port to show a server going down and coming back.
 *
 * @module
 */

import { requireProgram } from "./requirements.ts";
import { waitFor } from "./wait.ts";

const REDIS_SERVER = "/usr/bin/redis-server";

/** A running (or stopped) private Redis server. */
export interface RedisPeer {
  /** Its port on 127.0.0.1. */
  readonly port: number;
  /** `127.0.0.1:PORT` plus `/db/password` when given, as a `servers` entry. */
  server(db?: number, password?: string): string;
  /** Runs one command through a fresh connection and returns the raw reply text. */
  cli(...args: string[]): Promise<string>;
  /** Stops the server (the port refuses connections until `start`). */
  stop(): Promise<void>;
  /** Starts it again on the same port. */
  start(): Promise<void>;
}

/** A free TCP port on 127.0.0.1 (the listener is closed before returning). */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Options of {@linkcode startRedis}. */
export interface RedisOptions {
  /** `requirepass`; default none. */
  password?: string;
}

/**
 * Starts redis-server on a free loopback port and waits until it answers PING.
 *
 * @example Usage
 * ```ts
 * const redis = await startRedis();
 * try { await redis.cli("SET", "k", "v"); } finally { await redis.stop(); }
 * ```
 */
export async function startRedis(options: RedisOptions = {}): Promise<RedisPeer> {
  const port = freePort();
  let child: Deno.ChildProcess | null = null;
  const args = [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--save",
    "",
    "--appendonly",
    "no",
    "--enable-debug-command",
    "yes",
    "--loglevel",
    "warning",
    "--dir",
    "/tmp", // nothing is written: no snapshots, no append-only file
  ];
  if (options.password) args.push("--requirepass", options.password);
  const auth = options.password ? ["AUTH", options.password] : [];
  const peer: RedisPeer = {
    port,
    server: (db, password) =>
      `127.0.0.1:${port}` + (db !== undefined || password ? `/${db ?? ""}` : "") +
      (password ? `/${password}` : ""),
    cli: (...cmd) => raw(port, auth.length ? [auth, cmd] : [cmd]),
    async stop() {
      if (!child) return;
      child.kill("SIGKILL");
      await child.status;
      child = null;
    },
    async start() {
      if (child) return;
      child = new Deno.Command(requireProgram(REDIS_SERVER, "redis-server"), {
        args,
        stdout: "null",
        stderr: "null",
      }).spawn();
      await waitFor(async () => {
        try {
          return (await raw(port, auth.length ? [auth, ["PING"]] : [["PING"]])).includes("PONG");
        } catch {
          return false; // not listening yet
        }
      }, { timeoutMs: 5000, what: `redis-server to answer PING on port ${port}` });
    },
  };
  await peer.start();
  return peer;
}

// Sends commands in RESP and returns the last reply's first line(s) as text.
async function raw(port: number, cmds: string[][]): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const enc = new TextEncoder();
    let out = "";
    for (const c of cmds) {
      out += `*${c.length}\r\n`;
      for (const a of c) out += `$${enc.encode(a).length}\r\n${a}\r\n`;
    }
    await conn.write(enc.encode(out));
    const buf = new Uint8Array(65536);
    let text = "";
    const deadline = Date.now() + 5000;
    // Good enough for tests: read until every command produced at least one line.
    while (text.split("\r\n").length <= cmds.length && Date.now() < deadline) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
    return text;
  } finally {
    conn.close();
  }
}
