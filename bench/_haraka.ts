/**
 * A private Haraka for the comparison bench: installed from npm (with the machine's node and
 * npm) into a cache folder in the system temp dir, and run with its own config folder on a
 * random loopback port. Loopback clients may relay (`relay` plugin ACL); `queue/smtp_forward`
 * routes relayed mail through Haraka's outbound queue (on disk) to the sink, so Haraka stores
 * and forwards like the others.
 */
import { freePort, waitListening } from "../tests/helpers/postfix.ts";

const HOME = "/tmp/edge-relay-bench-haraka";
const VERSION = "3.3.4";
const BIN = `${HOME}/node_modules/Haraka/bin/haraka`;

/** Raised when Haraka cannot be installed or started; the bench prints its message. */
export class HarakaUnavailableError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "HarakaUnavailableError";
  }
}

const dec = new TextDecoder();

async function run(cmd: string, args: string[], cwd?: string): Promise<string> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(cmd, {
      args,
      cwd,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (e) {
    throw new HarakaUnavailableError(`cannot run ${cmd}: ${(e as Error).message}`);
  }
  if (!out.success) {
    const err = dec.decode(out.stderr).trim().split("\n").slice(-3).join(" ");
    throw new HarakaUnavailableError(`${cmd} ${args.join(" ")} failed: ${err}`);
  }
  return dec.decode(out.stdout);
}

/** Installs Haraka from npm once; returns its name and version. */
export async function ensureHaraka(): Promise<string> {
  try {
    await Deno.stat(BIN);
  } catch {
    await Deno.mkdir(HOME, { recursive: true });
    await Deno.writeTextFile(`${HOME}/package.json`, '{"name":"haraka-bench","private":true}\n');
    await run("npm", ["install", "--no-audit", "--no-fund", `Haraka@${VERSION}`], HOME);
  }
  const pkg = JSON.parse(await Deno.readTextFile(`${HOME}/node_modules/Haraka/package.json`));
  return `Haraka ${pkg.version}`;
}

/** A running Haraka. */
export interface HarakaInstance {
  /** Its SMTP port on 127.0.0.1. */
  port: number;
  /** The master process id (its cluster worker is a child). */
  pid: number;
  /** Haraka's folder (config/, queue/). */
  dir: string;
  /** Stops Haraka (SIGTERM, SIGKILL after 10 s) and removes its folder unless `keep`. */
  stop(opts?: { keep?: boolean }): Promise<void>;
}

/** Starts Haraka on 127.0.0.1, relaying everything from loopback to 127.0.0.1:sinkPort. */
export async function startHaraka(opts: { sinkPort: number }): Promise<HarakaInstance> {
  await ensureHaraka();
  const port = freePort();
  const base = await Deno.makeTempDir({ prefix: "haraka-bench-" });
  const dir = `${base}/haraka`;
  const conf = `${dir}/config`;
  // `haraka -i` writes the default config (connection.ini and the like); then override.
  await run("node", [BIN, "-i", dir]);
  const files: Record<string, string> = {
    "me": "haraka.bench.test\n",
    "smtp.ini": `[main]\nlisten=127.0.0.1:${port}\n`,
    "plugins": "relay\nqueue/smtp_forward\n",
    "relay.ini": "[relay]\nacl=true\n",
    "relay_acl_allow": "127.0.0.0/8\n",
    "smtp_forward.ini": `host=127.0.0.1\nport=${opts.sinkPort}\nenable_tls=false\n` +
      `enable_outbound=true\n`,
    "outbound.ini": "enable_tls=false\n",
    "log.ini": "[main]\nlevel=info\n",
  };
  for (const [name, text] of Object.entries(files)) {
    await Deno.writeTextFile(`${conf}/${name}`, text);
  }
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("node", {
      args: [BIN, "-c", dir],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
  } catch (e) {
    throw new HarakaUnavailableError(`cannot run node: ${(e as Error).message}`);
  }
  let errText = "";
  const drain = (async () => {
    for await (const c of child.stderr) errText = (errText + dec.decode(c)).slice(-2000);
  })();
  let exited = false;
  let code: number | undefined;
  const status = child.status.then((s) => (exited = true, code = s.code, s));
  const stop = async (o: { keep?: boolean } = {}) => {
    if (!exited) child.kill("SIGTERM");
    const t = setTimeout(() => !exited && child.kill("SIGKILL"), 10_000);
    await status;
    clearTimeout(t);
    await drain;
    if (!o.keep) await Deno.remove(base, { recursive: true }).catch(() => {});
  };
  try {
    await waitListening(port, 20_000);
  } catch {
    const why = exited ? `it exited with code ${code}` : "it did not listen";
    await stop();
    throw new HarakaUnavailableError(`Haraka on 127.0.0.1:${port}: ${why}: ${errText.trim()}`);
  }
  return { port, pid: child.pid, dir, stop };
}
