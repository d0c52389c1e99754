/**
 * Real Postfix peers for tests and benchmarks, all on loopback:
 * - {@linkcode startPostfix}: a private, full Postfix instance (its own config, queue and data
 *   folders in a temp dir; the system instance is never touched) that holds, relays or
 *   delivers what it receives;
 * - {@linkcode smtpSink}: Postfix's `smtp-sink` test server;
 * - {@linkcode smtpSource}: Postfix's `smtp-source` load generator.
 *
 * Postfix needs root to start (it drops to `mail_owner = postfix`), as on the test machines.
 *
 * @module
 */

import { requireProgram } from "./requirements.ts";
import { waitFor } from "./wait.ts";

const POSTFIX = "/usr/sbin/postfix";
const SMTP_SINK = "/usr/sbin/smtp-sink";
const SMTP_SOURCE = "/usr/sbin/smtp-source";

/** The user Postfix and smtp-sink drop privileges to. */
const MAIL_OWNER = "postfix";

/** Postfix queues that hold messages, as folder names under `queue_directory`. */
export type PostfixQueue = "maildrop" | "incoming" | "active" | "deferred" | "hold";

const QUEUES: PostfixQueue[] = ["maildrop", "incoming", "active", "deferred", "hold"];

/**
 * What the instance does with accepted mail:
 * - `hold`: every message goes to the hold queue, so only accepting is measured;
 * - `relay`: everything is relayed to `relayTo` (`host:port`), TLS off;
 * - `final`: final destination for `domains`; every recipient there lands in one Maildir
 *   (read it with {@linkcode PostfixInstance.delivered}); other domains are refused (relay
 *   denied).
 */
export type PostfixMode = "hold" | "relay" | "final";

/** Options of {@linkcode startPostfix}. */
export interface PostfixOptions {
  /** What to do with accepted mail; default `hold`. */
  mode?: PostfixMode;
  /** `host:port` to relay to in `relay` mode (IPv6 as `[::1]:2525`). */
  relayTo?: string;
  /** Domains Postfix is the final destination for in `final` mode; default `["sink.test"]`. */
  domains?: string[];
  /** Port for the smtpd on 127.0.0.1; default a free one. */
  port?: number;
  /** `myhostname`; default `postfix-peer.test`. */
  hostname?: string;
  /**
   * Per-recipient verdicts checked first (Postfix access(5) actions), for example
   * `{ "busy@sink.test": "450 4.2.1 Try later", "nobody@sink.test": "550 5.1.1 No such user" }`.
   */
  recipientAccess?: Record<string, string>;
  /** Extra or overriding main.cf parameters. */
  main?: Record<string, string>;
}

/** A running private Postfix instance. */
export interface PostfixInstance {
  /** The smtpd port on 127.0.0.1. */
  port: number;
  /** The temp dir holding `conf/`, `queue/`, `data/`, `mail/` and `maillog`. */
  dir: string;
  /** The master process id, for RSS or CPU figures. */
  masterPid: number;
  /** Messages in one queue, or in all of them when no queue is given. */
  queueCount(queue?: PostfixQueue): Promise<number>;
  /** Raw messages delivered to the Maildir (`final` mode), oldest first. */
  delivered(): Promise<string[]>;
  /** The instance's log so far. */
  log(): Promise<string>;
  /** Stops Postfix (`postfix -c DIR stop`) and removes the temp dir unless `keep`. */
  stop(opts?: { keep?: boolean }): Promise<void>;
}

/** Raised when a Postfix peer cannot be started. */
export class PeerStartError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "PeerStartError";
  }
}

/** Returns a TCP port that was free on 127.0.0.1 a moment ago. */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Resolves once something accepts TCP connections on 127.0.0.1:port. */
export async function waitListening(port: number, timeoutMs = 10_000): Promise<void> {
  await waitFor(async () => {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return true;
    } catch {
      return false;
    }
  }, { timeoutMs, what: `a listener on 127.0.0.1:${port}` });
}

async function run(cmd: string, args: string[]): Promise<Deno.CommandOutput> {
  // stdio goes to /dev/null: the Postfix master daemonizes and would hold a pipe open.
  return await new Deno.Command(cmd, { args, stdin: "null", stdout: "null", stderr: "null" })
    .output();
}

function uidOf(user: string): Promise<number> {
  return new Deno.Command("id", { args: ["-u", user], stdout: "piped", stderr: "null" })
    .output().then((o) => {
      if (!o.success) throw new PeerStartError(`Cannot start Postfix: no user ${user}`);
      return Number(new TextDecoder().decode(o.stdout).trim());
    });
}

function relayHostOf(relayTo: string): string {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(relayTo);
  if (!m) throw new PeerStartError(`Cannot start Postfix: relayTo ${relayTo} is not host:port`);
  const host = m[1].includes(":") ? `ipv6:${m[1]}` : m[1];
  return `[${host}]:${m[2]}`;
}

/** Builds an inline: access table (Postfix 3.0+) from key -> action. */
function inlineTable(entries: Record<string, string>): string {
  const body = Object.entries(entries).map(([k, v]) => `{ ${k} = ${v} }`).join(", ");
  return `inline:{ ${body} }`;
}

function mainCf(dir: string, port: number, opts: PostfixOptions, uid: number): string {
  const mode = opts.mode ?? "hold";
  const p: Record<string, string> = {
    compatibility_level: "3.6",
    config_directory: `${dir}/conf`,
    queue_directory: `${dir}/queue`,
    data_directory: `${dir}/data`,
    mail_owner: MAIL_OWNER,
    myhostname: opts.hostname ?? "postfix-peer.test",
    mydomain: "peer.test",
    myorigin: "$myhostname",
    mydestination: "",
    inet_interfaces: "loopback-only",
    inet_protocols: "all",
    mynetworks: "127.0.0.0/8 [::1]/128",
    relayhost: "",
    relay_domains: "",
    alias_maps: "",
    alias_database: "",
    local_recipient_maps: "",
    // Never deliver to local users of this machine.
    local_transport: "error:local delivery disabled",
    smtpd_peername_lookup: "no",
    smtp_dns_support_level: "disabled",
    smtp_tls_security_level: "none",
    smtpd_tls_security_level: "none",
    biff: "no",
    syslog_name: `postfix-peer-${port}`,
    maillog_file: `${dir}/maillog`,
    maillog_file_prefixes: dir,
    smtpd_relay_restrictions: "permit_mynetworks, reject_unauth_destination",
    smtpd_recipient_restrictions: "",
  };
  const rcpt: string[] = [];
  if (opts.recipientAccess) {
    rcpt.push(`check_recipient_access ${inlineTable(opts.recipientAccess)}`);
  }
  if (mode === "hold") {
    // HOLD is not final: the relay restrictions still run after it.
    rcpt.push("check_client_access static:HOLD");
    // No queue manager takes these, so do not let cleanup wait for its in-flow tokens.
    p.in_flow_delay = "0s";
  } else if (mode === "relay") {
    if (!opts.relayTo) throw new PeerStartError("Cannot start Postfix: relay mode needs relayTo");
    p.relayhost = relayHostOf(opts.relayTo);
  } else {
    const domains = opts.domains ?? ["sink.test"];
    p.virtual_mailbox_domains = domains.join(" ");
    p.virtual_mailbox_base = `${dir}/mail`;
    p.virtual_mailbox_maps = "static:sink/";
    p.virtual_uid_maps = `static:${uid}`;
    p.virtual_gid_maps = `static:${uid}`;
    p.virtual_minimum_uid = "1";
    p.smtpd_relay_restrictions = "reject_unauth_destination";
  }
  p.smtpd_recipient_restrictions = rcpt.join(", ");
  Object.assign(p, opts.main ?? {});
  return Object.entries(p).map(([k, v]) => `${k} = ${v}`).join("\n") + "\n";
}

function masterCf(port: number): string {
  // service type private unpriv chroot wakeup maxproc command; nothing chrooted.
  return [
    `127.0.0.1:${port} inet n - n - - smtpd`,
    "pickup unix n - n 60 1 pickup",
    "cleanup unix n - n - 0 cleanup",
    "qmgr unix n - n 300 1 qmgr",
    "rewrite unix - - n - - trivial-rewrite",
    "bounce unix - - n - 0 bounce",
    "defer unix - - n - 0 bounce",
    "trace unix - - n - 0 bounce",
    "verify unix - - n - 1 verify",
    "flush unix n - n 1000? 0 flush",
    "proxymap unix - - n - - proxymap",
    "proxywrite unix - - n - 1 proxymap",
    "smtp unix - - n - - smtp",
    "relay unix - - n - - smtp",
    "showq unix n - n - - showq",
    "error unix - - n - - error",
    "retry unix - - n - - error",
    "discard unix - - n - - discard",
    "virtual unix - n n - - virtual",
    "anvil unix - - n - 1 anvil",
    "scache unix - - n - 1 scache",
    // smtpd and smtp get their TLS entropy and session cache from tlsmgr; without it no TLS.
    "tlsmgr unix - - n 1000? 1 tlsmgr",
    "postlog unix-dgram n - n - 1 postlogd",
  ].join("\n") + "\n";
}

async function readOr(path: string, fallback = ""): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch {
    return fallback;
  }
}

async function countFiles(dir: string): Promise<number> {
  let n = 0;
  try {
    for await (const e of Deno.readDir(dir)) {
      if (e.isFile) n++;
      else if (e.isDirectory) n += await countFiles(`${dir}/${e.name}`);
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return n;
}

async function readMaildir(dir: string): Promise<string[]> {
  const files: { name: string; path: string }[] = [];
  for (const sub of ["new", "cur"]) {
    try {
      for await (const e of Deno.readDir(`${dir}/${sub}`)) {
        if (e.isFile) files.push({ name: e.name, path: `${dir}/${sub}/${e.name}` });
      }
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
  // Maildir names start with the delivery time in seconds, then a sequence.
  files.sort((a, b) => a.name.localeCompare(b.name, "en", { numeric: true }));
  return await Promise.all(files.map((f) => Deno.readTextFile(f.path)));
}

/**
 * Starts a private Postfix instance on 127.0.0.1 with its own config, queue and data folders.
 * Throws {@linkcode PeerStartError} (with the instance's log) when `postfix check` or
 * `postfix start` fails.
 *
 * @example Hold everything
 * ```ts
 * const pf = await startPostfix({ mode: "hold" });
 * // ... send to 127.0.0.1:pf.port ...
 * await waitFor(async () => (await pf.queueCount("hold")) === 5);
 * await pf.stop();
 * ```
 */
export async function startPostfix(opts: PostfixOptions = {}): Promise<PostfixInstance> {
  requireProgram(POSTFIX, "postfix");
  const port = opts.port ?? freePort();
  const uid = await uidOf(MAIL_OWNER);
  const dir = await Deno.makeTempDir({ prefix: "postfix-peer-" });
  const conf = `${dir}/conf`;
  const fail = async (what: string): Promise<never> => {
    const log = await readOr(`${dir}/maillog`);
    await run(POSTFIX, ["-c", conf, "stop"]);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw new PeerStartError(
      `Cannot start Postfix: ${what}\n${log.split("\n").slice(-15).join("\n")}`,
    );
  };
  try {
    await Deno.chmod(dir, 0o755); // Postfix daemons run as mail_owner and must get in.
    for (const sub of ["conf", "queue", "data", "mail"]) await Deno.mkdir(`${dir}/${sub}`);
    await Deno.chown(`${dir}/data`, uid, null);
    await Deno.chown(`${dir}/mail`, uid, null);
    await Deno.writeTextFile(`${conf}/main.cf`, mainCf(dir, port, opts, uid));
    await Deno.writeTextFile(`${conf}/master.cf`, masterCf(port));
  } catch (e) {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw e;
  }
  // `postfix check` only logs (to maillog_file) when stderr is not a terminal.
  if (!(await run(POSTFIX, ["-c", conf, "check"])).success) await fail("postfix check failed");
  const checkLog = await readOr(`${dir}/maillog`);
  if (/(fatal|warning):/.test(checkLog)) await fail("postfix check complained");
  if (!(await run(POSTFIX, ["-c", conf, "start"])).success) await fail("postfix start failed");
  try {
    await waitListening(port);
  } catch {
    await fail(`nothing listens on 127.0.0.1:${port}`);
  }
  const masterPid = Number((await readOr(`${dir}/queue/pid/master.pid`, "0")).trim());
  let stopped = false;
  return {
    port,
    dir,
    masterPid,
    async queueCount(queue?: PostfixQueue): Promise<number> {
      let n = 0;
      for (const q of queue ? [queue] : QUEUES) n += await countFiles(`${dir}/queue/${q}`);
      return n;
    },
    delivered: () => readMaildir(`${dir}/mail/sink`),
    log: () => readOr(`${dir}/maillog`),
    async stop(opts: { keep?: boolean } = {}): Promise<void> {
      if (stopped) return;
      stopped = true;
      const out = await run(POSTFIX, ["-c", conf, "stop"]);
      if (!out.success) await run(POSTFIX, ["-c", conf, "abort"]);
      if (!opts.keep) await Deno.remove(dir, { recursive: true });
    },
  };
}

/** Options of {@linkcode smtpSink}. */
export interface SmtpSinkOptions {
  /** Port on 127.0.0.1; default a free one. */
  port?: number;
  /** Keep each received transaction as a file (read with `messages()`); default false. */
  dump?: boolean;
  /** Extra smtp-sink flags, for example `["-r", "rcpt"]` to reject RCPT or `["-p"]`. */
  args?: string[];
  /** Listen backlog; default 256. */
  backlog?: number;
}

/** A running smtp-sink. */
export interface SmtpSink {
  /** The port on 127.0.0.1. */
  port: number;
  /** The process id. */
  pid: number;
  /** Messages received so far (smtp-sink's running counter, updated on QUIT). */
  count(): number;
  /** Transactions dumped so far (with `dump: true`), each with smtp-sink's X- headers. */
  messages(): Promise<string[]>;
  /** Kills smtp-sink and removes its dump folder. */
  stop(): Promise<void>;
}

/**
 * Starts Postfix's `smtp-sink` on 127.0.0.1 (as user postfix when run as root).
 *
 * @example Count deliveries
 * ```ts
 * const sink = await smtpSink();
 * // ... deliver to 127.0.0.1:sink.port ...
 * await sink.stop();
 * ```
 */
export async function smtpSink(opts: SmtpSinkOptions = {}): Promise<SmtpSink> {
  const port = opts.port ?? freePort();
  const dir = await Deno.makeTempDir({ prefix: "smtp-sink-" });
  await Deno.chmod(dir, 0o755);
  const uid = await uidOf(MAIL_OWNER);
  await Deno.chown(dir, uid, null);
  const args = ["-u", MAIL_OWNER, "-c", ...(opts.dump ? ["-d", `${dir}/`] : [])];
  args.push(...(opts.args ?? []), `127.0.0.1:${port}`, String(opts.backlog ?? 256));
  const child = new Deno.Command(requireProgram(SMTP_SINK, "postfix"), {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let counter = 0;
  let errText = "";
  const readOut = (async () => {
    const dec = new TextDecoder();
    let tail = "";
    for await (const chunk of child.stdout) {
      tail = (tail + dec.decode(chunk, { stream: true })).slice(-200);
      const all = [...tail.matchAll(/mesg=(\d+)/g)];
      if (all.length) counter = Number(all[all.length - 1][1]);
    }
  })();
  const readErr = (async () => {
    for await (const chunk of child.stderr) errText += new TextDecoder().decode(chunk);
  })();
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch { /* already gone */ }
    await child.status;
    await Promise.all([readOut, readErr]);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  try {
    await waitListening(port, 5_000);
  } catch {
    await stop();
    throw new PeerStartError(`Cannot start smtp-sink on 127.0.0.1:${port}: ${errText.trim()}`);
  }
  return {
    port,
    pid: child.pid,
    count: () => counter,
    async messages(): Promise<string[]> {
      const names: string[] = [];
      for await (const e of Deno.readDir(dir)) if (e.isFile) names.push(e.name);
      return await Promise.all(names.sort().map((n) => Deno.readTextFile(`${dir}/${n}`)));
    },
    stop,
  };
}

/** Options of {@linkcode smtpSource}. */
export interface SmtpSourceOptions {
  /** Target port on `host`. */
  port: number;
  /** Target host; default 127.0.0.1. */
  host?: string;
  /** Number of messages; default 1. */
  messages?: number;
  /** Concurrent sessions; default 1. */
  sessions?: number;
  /** Message length in bytes (smtp-source -l); default 1024. */
  size?: number;
  /** Envelope sender; default `source@example.org`. */
  from?: string;
  /** Envelope recipient; default `sink@example.com`. */
  to?: string;
  /** Recipients per message (smtp-source -r); default 1. */
  recipients?: number;
  /** Send all messages of a session over one connection (smtp-source -d); default false. */
  reuseConnection?: boolean;
  /** Extra flags. */
  args?: string[];
}

/** What a smtp-source run did. */
export interface SmtpSourceResult {
  /** Exit status was 0. */
  success: boolean;
  /** Wall time of the whole run in milliseconds. */
  ms: number;
  /** smtp-source's stderr (it reports failures there). */
  stderr: string;
}

/**
 * Runs Postfix's `smtp-source` to completion and times it.
 *
 * @example Ten messages over two sessions
 * ```ts
 * const r = await smtpSource({ port, messages: 10, sessions: 2, size: 10_240 });
 * ```
 */
export async function smtpSource(opts: SmtpSourceOptions): Promise<SmtpSourceResult> {
  const args = [
    "-s",
    String(opts.sessions ?? 1),
    "-m",
    String(opts.messages ?? 1),
    "-l",
    String(opts.size ?? 1024),
    "-f",
    opts.from ?? "source@example.org",
    "-t",
    opts.to ?? "sink@example.com",
    "-r",
    String(opts.recipients ?? 1),
    "-M",
    "source.example.org",
    ...(opts.reuseConnection ? ["-d"] : []),
    ...(opts.args ?? []),
    `${opts.host ?? "127.0.0.1"}:${opts.port}`,
  ];
  const t0 = performance.now();
  const out = await new Deno.Command(requireProgram(SMTP_SOURCE, "postfix"), {
    args,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  return {
    success: out.success,
    ms: performance.now() - t0,
    stderr: new TextDecoder().decode(out.stderr),
  };
}
