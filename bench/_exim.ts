/**
 * A private Exim for the comparison bench. Debian's exim4 and postfix packages conflict, so
 * Exim is never installed: its packages are fetched with `apt-get download` and unpacked with
 * `dpkg -x` into a private root (cached in the system temp dir), and each instance runs from
 * there with its own config, spool and log in a temp dir, on a random loopback port. Exim
 * looks up its compiled-in user `Debian-exim` at start; the instance runs in a private mount
 * namespace (`unshare -m`) whose /etc/passwd and /etc/group add that name for the `postfix`
 * user, so the machine's files are never changed. Needs root.
 */
import { freePort, waitListening } from "../tests/helpers/postfix.ts";

const ROOT = "/tmp/edge-relay-bench-exim-root";
const EXIM = `${ROOT}/usr/sbin/exim4`;
const LIBS = `${ROOT}/usr/lib/x86_64-linux-gnu`;
/** Packages unpacked into the private root (libidn12: a library exim4 links that postfix does not pull in). */
const PACKAGES = ["exim4-daemon-light", "exim4-base", "exim4-config", "libidn12"];

/** Raised when Exim cannot be fetched or started; the bench prints its message. */
export class EximUnavailableError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "EximUnavailableError";
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
    })
      .output();
  } catch (e) {
    throw new EximUnavailableError(`cannot run ${cmd}: ${(e as Error).message}`);
  }
  if (!out.success) {
    const err = dec.decode(out.stderr).trim().split("\n").slice(-2).join(" ");
    throw new EximUnavailableError(`${cmd} ${args.join(" ")} failed: ${err}`);
  }
  return dec.decode(out.stdout);
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Fetches and unpacks Exim into the private root once; returns its name and version. */
export async function ensureExim(): Promise<string> {
  const versionFile = `${ROOT}/VERSION`;
  if (!(await exists(versionFile))) {
    const debs = `${ROOT}.debs`;
    await Deno.mkdir(debs, { recursive: true });
    await run("apt-get", ["download", ...PACKAGES], debs);
    let version = "";
    for await (const e of Deno.readDir(debs)) {
      if (!e.name.endsWith(".deb")) continue;
      await run("dpkg", ["-x", `${debs}/${e.name}`, ROOT]);
      if (e.name.startsWith("exim4-daemon-light_")) {
        version = (await run("dpkg-deb", ["-f", `${debs}/${e.name}`, "Version"])).trim();
      }
    }
    // Not setuid: Exim re-executes itself for deliveries, and a setuid exec would drop the
    // LD_LIBRARY_PATH that finds the private libidn. The bench runs as root anyway.
    await Deno.chmod(EXIM, 0o755);
    await Deno.writeTextFile(versionFile, version);
  }
  // Upstream version from the Debian one: 4.96-15+deb12u11 -> 4.96.
  return `Exim ${(await Deno.readTextFile(versionFile)).trim().replace(/-.*/, "")}`;
}

/** Options of {@linkcode startExim}. */
export interface EximOptions {
  /** Relay everything to this smtp-sink port on 127.0.0.1; without it, queue only (hold). */
  sinkPort?: number;
}

/** A running private Exim daemon. */
export interface EximInstance {
  /** Its SMTP port on 127.0.0.1. */
  port: number;
  /** The daemon's pid (its reception and delivery processes are its descendants). */
  pid: number;
  /** Temp dir with its config, spool and log. */
  dir: string;
  /** Messages on Exim's spool (queued, not yet delivered). */
  queueCount(): Promise<number>;
  /** Stops the daemon (SIGTERM, SIGKILL after 10 s) and removes the temp dir unless `keep`. */
  stop(opts?: { keep?: boolean }): Promise<void>;
}

function config(dir: string, port: number, opts: EximOptions): string {
  const route = opts.sinkPort === undefined ? "queue_only = true\n" : "";
  return `primary_hostname = exim.bench.test
exim_path = ${EXIM}
exim_user = postfix
exim_group = postfix
never_users = root
spool_directory = ${dir}/spool
log_file_path = ${dir}/log/%slog
notifier_socket = ${dir}/spool/exim_notify
keep_environment = LD_LIBRARY_PATH
daemon_smtp_ports = ${port}
local_interfaces = 127.0.0.1
tls_advertise_hosts =
host_lookup =
rfc1413_hosts =
rfc1413_query_timeout = 0s
smtp_accept_max = 200
smtp_accept_reserve = 0
# Default 10: later messages on one connection would wait for a queue run.
smtp_accept_queue_per_connection = 0
smtp_connect_backlog = 256
acl_smtp_rcpt = acl_rcpt
${route}
begin acl
acl_rcpt:
  accept hosts = 127.0.0.0/8
  deny

begin routers
sink:
  driver = manualroute
  domains = *
  route_list = * 127.0.0.1
  transport = to_sink
  self = send

begin transports
to_sink:
  driver = smtp
  port = ${opts.sinkPort ?? 25}
  hosts_avoid_tls = *

begin retry
* * F,1h,1m
`;
}

async function countHeaders(dir: string): Promise<number> {
  let n = 0;
  try {
    for await (const e of Deno.readDir(dir)) {
      if (e.isDirectory) n += await countHeaders(`${dir}/${e.name}`);
      else if (e.name.endsWith("-H")) n++;
    }
  } catch { /* no spool yet */ }
  return n;
}

/** Starts a private Exim daemon on 127.0.0.1 (fetching Exim first if needed). */
export async function startExim(opts: EximOptions = {}): Promise<EximInstance> {
  await ensureExim();
  const port = freePort();
  const dir = await Deno.makeTempDir({ prefix: "exim-bench-" });
  await Deno.chmod(dir, 0o755);
  const uid = Number((await run("id", ["-u", "postfix"])).trim());
  const gid = Number((await run("id", ["-g", "postfix"])).trim());
  for (const sub of ["spool", "log"]) {
    await Deno.mkdir(`${dir}/${sub}`);
    await Deno.chown(`${dir}/${sub}`, uid, gid);
  }
  await Deno.writeTextFile(`${dir}/exim.conf`, config(dir, port, opts));
  const passwd = await Deno.readTextFile("/etc/passwd");
  const group = await Deno.readTextFile("/etc/group");
  await Deno.writeTextFile(
    `${dir}/passwd`,
    `${passwd.trimEnd()}\nDebian-exim:x:${uid}:${gid}::/nonexistent:/usr/sbin/nologin\n`,
  );
  await Deno.writeTextFile(`${dir}/group`, `${group.trimEnd()}\nDebian-exim:x:${gid}:\n`);
  // Paths go in as positional parameters ($1..$4), never into the script text.
  const script = 'mount --bind "$1" /etc/passwd && mount --bind "$2" /etc/group && ' +
    'exec "$3" -C "$4" -bdf -q30m';
  const child = new Deno.Command("unshare", {
    args: [
      "-m",
      "--propagation",
      "private",
      "bash",
      "-c",
      script,
      "exim-bench",
      `${dir}/passwd`,
      `${dir}/group`,
      EXIM,
      `${dir}/exim.conf`,
    ],
    env: { LD_LIBRARY_PATH: LIBS },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
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
    if (!o.keep) await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  try {
    await waitListening(port, 10_000);
  } catch {
    const why = exited ? `it exited with code ${code}` : "it did not listen";
    await stop();
    throw new EximUnavailableError(`Exim on 127.0.0.1:${port}: ${why}: ${errText.trim()}`);
  }
  return {
    port,
    pid: child.pid,
    dir,
    queueCount: () => countHeaders(`${dir}/spool/input`),
    stop,
  };
}
