import { formatHostPort } from "../net/mod.ts";

/** Name servers and options read from a resolv.conf file. */
export interface ResolvConf {
  /** Servers as `host:port` (port 53). */
  servers: string[];
  /** Per-try timeout in milliseconds (`options timeout:N`). */
  timeout?: number;
  /** Tries per server (`options attempts:N`). */
  attempts?: number;
}

/** Parses resolv.conf text (resolv.conf(5)): `nameserver` lines and `options`. */
export function parseResolvConf(text: string): ResolvConf {
  const out: ResolvConf = { servers: [] };
  for (const raw of text.split("\n")) {
    const line = raw.replace(/[#;].*$/, "").trim();
    const [word, ...args] = line.split(/\s+/);
    if (word === "nameserver" && args[0]) {
      const host = args[0].replace(/%.*$/, ""); // drop an IPv6 zone
      out.servers.push(formatHostPort({ host, port: 53 }));
    } else if (word === "options") {
      for (const opt of args) {
        const [k, v] = opt.split(":");
        if (k === "timeout" && Number(v) > 0) out.timeout = Number(v) * 1000;
        if (k === "attempts" && Number(v) > 0) out.attempts = Number(v);
      }
    }
  }
  return out;
}

/** Reads /etc/resolv.conf (or `path`); falls back to 127.0.0.1:53 when it has no servers. */
export async function readResolvConf(path = "/etc/resolv.conf"): Promise<ResolvConf> {
  let conf: ResolvConf = { servers: [] };
  try {
    conf = parseResolvConf(await Deno.readTextFile(path));
  } catch {
    // No file: use the local default, as the C library does.
  }
  if (conf.servers.length === 0) conf.servers = ["127.0.0.1:53"];
  return conf;
}
