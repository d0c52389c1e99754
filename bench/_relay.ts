/** Starts the relay under test as a subprocess (`deno run ... main.ts serve`) for benchmarks. */
import { freePort, waitListening } from "../tests/helpers/postfix.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;

/** Options of {@linkcode startRelay}. */
export interface RelayOptions {
  /** Port on 127.0.0.1; default a free one. */
  port?: number;
  /** TOML appended to the generated config (routes, transports ...). */
  extraToml?: string;
  /** Extra `[server]` keys as TOML lines. */
  serverToml?: string;
  /** Write a V8 CPU profile of the relay into this folder (`--cpu-prof-dir`). */
  cpuProfDir?: string;
  /** Log format; default `text`. */
  logFormat?: "text" | "json";
  /** Pin the relay to these CPUs with `taskset -c` (for example `0` or `0,1`). */
  cpus?: string;
}

/** A running relay process. */
export interface RelayProcess {
  /** Its SMTP port on 127.0.0.1. */
  port: number;
  /** Process id of the deno process. */
  pid: number;
  /** Temp dir holding the config, the spool and the log. */
  dir: string;
  /** The spool folder. */
  spool: string;
  /** Stops the relay (SIGTERM, SIGKILL after 10 s); keeps the temp dir. */
  stop(): Promise<void>;
  /** Removes the temp dir (after stop). */
  cleanup(): Promise<void>;
  /** The last lines the relay wrote to stderr. */
  stderrTail(): string;
}

/** Writes a config for a benchmark run: loopback listener, no TLS, no reverse DNS, file log. */
function configToml(dir: string, port: number, opts: RelayOptions): string {
  return `[server]
hostname = "relay.bench.test"
spool = "${dir}/spool"
reverse_dns = false
max_connections_per_ip = 1000
${opts.serverToml ?? ""}

[[listen]]
address = "127.0.0.1:${port}"
starttls = false

[log]
file = "${dir}/relay.log"
format = "${opts.logFormat ?? "text"}"

${opts.extraToml ?? ""}
`;
}

/** Starts `main.ts serve` with a temp config and spool; resolves when it listens. */
export async function startRelay(opts: RelayOptions = {}): Promise<RelayProcess> {
  const port = opts.port ?? freePort();
  const dir = await Deno.makeTempDir({ prefix: "relay-bench-" });
  const config = `${dir}/relay.toml`;
  await Deno.writeTextFile(config, configToml(dir, port, opts));
  // taskset execs deno in place, so the child's pid is the relay's.
  const cmd = opts.cpus ? "taskset" : Deno.execPath();
  const pin = opts.cpus ? ["-c", opts.cpus, Deno.execPath()] : [];
  const child = new Deno.Command(cmd, {
    args: [
      ...pin,
      "run",
      "--unstable-kv",
      "--v8-flags=--max-semi-space-size=1", // as deno.json's tasks
      "-A",
      ...(opts.cpuProfDir ? ["--cpu-prof", `--cpu-prof-dir=${opts.cpuProfDir}`] : []),
      MAIN,
      "serve",
      "--config",
      config,
    ],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let tail = "";
  const drain = (async () => {
    const dec = new TextDecoder();
    for await (const c of child.stderr) tail = (tail + dec.decode(c)).slice(-4000);
  })();
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  const stop = async () => {
    if (!exited) child.kill("SIGTERM");
    const timer = setTimeout(() => {
      if (!exited) child.kill("SIGKILL");
    }, 10_000);
    await status;
    clearTimeout(timer);
    await drain;
  };
  try {
    await waitListening(port, 30_000);
  } catch {
    await stop();
    throw new Error(`Cannot start the relay on 127.0.0.1:${port}:\n${tail}`);
  }
  return {
    port,
    pid: child.pid,
    dir,
    spool: `${dir}/spool`,
    stop,
    cleanup: () => Deno.remove(dir, { recursive: true }),
    stderrTail: () => tail,
  };
}

/** Counts messages in a spool folder (opened directly; the relay must be stopped). */
export async function countSpool(spool: string): Promise<number> {
  const kv = await Deno.openKv(`${spool}/spool.kv`);
  try {
    let n = 0;
    for await (const _ of kv.list({ prefix: ["msg"] })) n++;
    return n;
  } finally {
    kv.close();
  }
}
