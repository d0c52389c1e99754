/**
 * A real haproxy (Debian's /usr/sbin/haproxy) in TCP mode in front of a backend, sending the
 * PROXY protocol header (`send-proxy`, `send-proxy-v2` or `send-proxy-v2-ssl`). It listens on
 * a free port on 127.0.0.1 and another on [::1], runs in the foreground (`-db`) from a config
 * in a temp dir, and is killed by `stop()`.
 *
 * @module
 */

import { requireProgram } from "./requirements.ts";
import { waitFor } from "./wait.ts";

const HAPROXY = "/usr/sbin/haproxy";

/** Which PROXY header haproxy prepends on its connections to the backend. */
export type SendProxy = "send-proxy" | "send-proxy-v2" | "send-proxy-v2-ssl";

/** Options of {@linkcode startHaproxy}. */
export interface HaproxyOptions {
  /** Where haproxy forwards to (IPv6 without brackets). */
  backend: { hostname: string; port: number };
  /** The PROXY header flavour; default `send-proxy-v2`. */
  sendProxy?: SendProxy;
  /** haproxy `proxy-v2-options`, e.g. `["crc32c", "unique-id", "authority"]`. */
  proxyV2Options?: string[];
  /** Also listen on [::1]; default true. */
  ipv6?: boolean;
}

/** A running haproxy. */
export interface Haproxy {
  /** The frontend port on 127.0.0.1. */
  port: number;
  /** The frontend port on [::1] (0 when `ipv6: false`). */
  port6: number;
  /** The temp dir holding `haproxy.cfg`. */
  dir: string;
  /** What haproxy wrote on stdout and stderr so far (its connection log included). */
  log(): string;
  /** Kills haproxy, waits for it to exit and removes the temp dir. */
  stop(): Promise<void>;
}

/** Raised when haproxy cannot be started. */
export class HaproxyStartError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "HaproxyStartError";
  }
}

/**
 * Starts haproxy and resolves once both frontends are listening.
 *
 * @example
 * ```ts
 * const hap = await startHaproxy({ backend: { hostname: "127.0.0.1", port: 2525 } });
 * // connect to 127.0.0.1:hap.port or [::1]:hap.port6 ...
 * await hap.stop();
 * ```
 */
export async function startHaproxy(opts: HaproxyOptions): Promise<Haproxy> {
  const ipv6 = opts.ipv6 ?? true;
  const port = freePort("127.0.0.1");
  const port6 = ipv6 ? freePort("::1") : 0;
  const dir = await Deno.makeTempDir({ prefix: "haproxy-" });
  await Deno.writeTextFile(`${dir}/haproxy.cfg`, config(opts, port, port6));
  const child = new Deno.Command(requireProgram(HAPROXY, "haproxy"), {
    args: ["-db", "-f", `${dir}/haproxy.cfg`],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let output = "";
  const drain = (s: ReadableStream<Uint8Array>) =>
    s.pipeThrough(new TextDecoderStream()).pipeTo(
      new WritableStream({ write: (chunk) => void (output += chunk) }),
    ).catch(() => {});
  const drained = Promise.all([drain(child.stdout), drain(child.stderr)]);
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  const stop = async () => {
    if (!exited) child.kill("SIGKILL");
    await status;
    await drained;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  const up = () => listening(port, false) && (!ipv6 || listening(port6, true));
  await waitFor(() => exited || up(), { what: "haproxy to listen" }).catch(() => {});
  if (exited || !up()) {
    await stop();
    throw new HaproxyStartError(`haproxy did not start listening: ${output.trim()}`);
  }
  return { port, port6, dir, log: () => output, stop };
}

function config(opts: HaproxyOptions, port: number, port6: number): string {
  const { hostname, port: backendPort } = opts.backend;
  const target = hostname.includes(":")
    ? `[${hostname}]:${backendPort}`
    : `${hostname}:${backendPort}`;
  const v2opts = opts.proxyV2Options?.length
    ? ` proxy-v2-options ${opts.proxyV2Options.join(",")}`
    : "";
  return [
    "global",
    "  log stderr format raw local0 info",
    "  maxconn 200",
    "defaults",
    "  mode tcp",
    "  log global",
    "  option tcplog",
    "  timeout connect 5s",
    "  timeout client 30s",
    "  timeout server 30s",
    "frontend relay_in",
    `  bind 127.0.0.1:${port}`,
    ...(port6 ? [`  bind [::1]:${port6} v6only`] : []),
    "  unique-id-format %{+X}o%ci:%cp_%fi:%fp_%Ts_%rt",
    "  default_backend relay",
    "backend relay",
    `  server relay ${target} ${opts.sendProxy ?? "send-proxy-v2"}${v2opts}`,
    "",
  ].join("\n");
}

/** A TCP port that was free on the host a moment ago. */
function freePort(hostname: string): number {
  const l = Deno.listen({ hostname, port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/**
 * Tells whether a socket listens on the port, from /proc/net/tcp{,6}: probing with a
 * connection would make haproxy open a backend connection and send a header.
 */
function listening(port: number, ipv6: boolean): boolean {
  const table = Deno.readTextFileSync(ipv6 ? "/proc/net/tcp6" : "/proc/net/tcp");
  const hex = port.toString(16).toUpperCase().padStart(4, "0");
  return table.split("\n").some((line) => {
    const cols = line.trim().split(/\s+/);
    return cols[1]?.endsWith(`:${hex}`) && cols[3] === "0A";
  });
}
