/**
 * Starts the relay for tests: in-process (fast; the test reads its log lines and spool) or
 * as a subprocess of main.ts (for signals, kill -9 and the CLI).
 */
import { parse, stringify } from "smol-toml";
import { type Config, parseConfig } from "../../lib/config/mod.ts";
import { Logger } from "../../lib/log/mod.ts";
import { Spool } from "../../lib/spool/mod.ts";
import type { Envelope } from "../../lib/envelope/mod.ts";
import { SmtpServer } from "../../lib/server/mod.ts";
import { waitFor } from "./wait.ts";
import { checkOpenssl } from "../../lib/tls/mod.ts";

// OpenSSL is loaded once per process (as `relay serve` does at start), before any test runs:
// the resource sanitizers then see only what a test itself opens and leaves open.
checkOpenssl();

type Table = Record<string, unknown>;

function merge(base: Table, over: Table): Table {
  const out: Table = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = b && typeof b === "object" && !Array.isArray(b) && v && typeof v === "object" &&
        !Array.isArray(v)
      ? merge(b as Table, v as Table)
      : v;
  }
  return out;
}

/** The test defaults: loopback port 0, in-memory spool, a fixed host name. */
export function testConfigText(toml = "", base: Table = {}): string {
  const defaults: Table = {
    server: { hostname: "relay.test", spool: ":memory:", reverse_dns: false },
    // Tests never query DNS off this machine: a closed loopback port fails at once.
    dns: { servers: ["127.0.0.1:9"], attempts: 1, timeout: "200ms" },
    listen: [{ address: "127.0.0.1:0" }],
    log: { level: "debug" },
  };
  return stringify(merge(merge(defaults, base), parse(toml) as Table));
}

/** A relay running inside the test process. */
export interface TestRelay {
  config: Config;
  server: SmtpServer;
  spool: Spool;
  /** Port of the first listener. */
  port: number;
  /** Every log line so far. */
  logs: string[];
  /** The log file, as written. */
  logFile: string;
  /** Waits until a log line matches (or fails after `ms`). */
  waitLog(re: RegExp, ms?: number): Promise<string>;
  /** All messages in the spool. */
  messages(): Promise<Envelope[]>;
  /** A message body as text. */
  body(id: string): Promise<string>;
  close(): Promise<void>;
}

/** Starts an in-process relay with test defaults overridden by `toml`. */
export async function startRelay(toml = ""): Promise<TestRelay> {
  const config = parseConfig(testConfigText(toml), "<test>");
  const logFile = await Deno.makeTempFile({ prefix: "relay-log-" });
  const log = new Logger({ ...config.log, file: logFile });
  const logs: string[] = [];
  log.listeners.push((line) => logs.push(line));
  const spool = await Spool.open(config.server.spool);
  const server = await SmtpServer.start({ config, spool, log });
  return {
    config,
    server,
    spool,
    port: server.addresses[0].port,
    logs,
    logFile,
    waitLog(re, ms = 5000) {
      return waitFor(() => logs.find((l) => re.test(l)), {
        timeoutMs: ms,
        what: `a log line matching ${re}`,
        detail: () => logs.join("\n"),
      });
    },
    async messages() {
      const all: Envelope[] = [];
      for await (const e of spool.list()) all.push(e);
      return all;
    },
    async body(id) {
      return new TextDecoder().decode(await spool.readBody(id));
    },
    async close() {
      await server.close();
      spool.close();
      log.close();
      await Deno.remove(logFile).catch(() => {});
    },
  };
}

/** Flags main.ts runs with (as in deno.json tasks). */
export const RUN_FLAGS = [
  "run",
  "--unstable-kv",
  "--v8-flags=--max-semi-space-size=1",
  "--allow-net",
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-sys",
  "--allow-run",
  "--allow-ffi",
];

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

/** Runs `relay <args>` to completion. */
export async function relayCli(
  args: string[],
  stdin?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [...RUN_FLAGS, MAIN, ...args],
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const r = await child.output();
  const dec = new TextDecoder();
  return { code: r.code, stdout: dec.decode(r.stdout), stderr: dec.decode(r.stderr) };
}

/** A relay running as a child process. */
export interface RelayProcess {
  port: number;
  configPath: string;
  child: Deno.ChildProcess;
  /** Output lines so far (stdout and stderr). */
  lines: string[];
  /** Sends a signal and waits for the exit. */
  stop(signal?: Deno.Signal): Promise<number>;
}

/**
 * Starts `relay serve --config` in a child process with a config file in `dir` (the spool
 * goes in `dir/spool` unless the TOML says otherwise); resolves once it listens.
 */
export async function spawnRelay(
  dir: string,
  toml = "",
  opts: { logFile?: string } = {},
): Promise<RelayProcess> {
  const configPath = `${dir}/relay.toml`;
  await Deno.writeTextFile(
    configPath,
    testConfigText(toml, { server: { spool: `${dir}/spool` }, log: { level: "info" } }),
  );
  const child = new Deno.Command(Deno.execPath(), {
    args: [...RUN_FLAGS, MAIN, "serve", "--config", configPath],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  const lines: string[] = [];
  const port = Promise.withResolvers<number>();
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    let rest = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      rest += chunk;
      const parts = rest.split("\n");
      rest = parts.pop()!;
      for (const l of parts) {
        lines.push(l);
        const m = /SMTP listening on .* \(port (\d+)/.exec(l);
        if (m) port.resolve(Number(m[1]));
      }
    }
  };
  const pumps = Promise.all([pump(child.stdout), pump(child.stderr)]);
  // With [log] file set, the listening line is in that file.
  const watch = opts.logFile
    ? setInterval(async () => {
      const text = await Deno.readTextFile(opts.logFile!).catch(() => "");
      const m = /SMTP listening on .* \(port (\d+)/.exec(text);
      if (m) port.resolve(Number(m[1]));
    }, 50)
    : undefined;
  const timer = setTimeout(
    () => port.reject(new Error(`relay did not start:\n${lines.join("\n")}`)),
    20000,
  );
  child.status.then(() => port.reject(new Error(`relay exited:\n${lines.join("\n")}`)));
  try {
    const p = await port.promise;
    return {
      port: p,
      configPath,
      child,
      lines,
      async stop(signal: Deno.Signal = "SIGTERM") {
        try {
          child.kill(signal);
        } catch { /* already gone */ }
        const status = await child.status;
        await pumps;
        return status.code;
      },
    };
  } finally {
    clearTimeout(timer);
    clearInterval(watch);
  }
}

/** Runs `fn` with a fresh in-process relay configured by `toml`, and closes it after. */
export function relayTest(name: string, toml: string, fn: (r: TestRelay) => Promise<void>): void {
  Deno.test({
    name,
    // Deno 2 runs these only when asked (or with --sanitize-ops/--sanitize-resources): every
    // timer, read and connection a session starts must end by the time the relay is closed.
    sanitizeOps: true,
    sanitizeResources: true,
    async fn() {
      const relay = await startRelay(toml);
      try {
        await fn(relay);
      } finally {
        await relay.close();
      }
    },
  });
}
