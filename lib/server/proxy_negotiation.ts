import { parseProxyHeader, type ProxyInfo } from "../proxy/mod.ts";
import { ProxyHeaderError } from "../proxy/mod.ts";
import { reply } from "../smtp/mod.ts";
import type { Session } from "./session.ts";

/** The reply to every command but QUIT after a failed negotiation (as Exim words it). */
export const PROXY_REFUSAL = reply(
  503,
  "5.7.0",
  "Command refused, required Proxy negotiation failed",
);

/**
 * Reads the PROXY header (v1 or v2) that a trusted proxy must send first, before the banner.
 * On success the session's peer becomes the original client. On any failure (garbage, late,
 * truncated, or SMTP bytes sent along before the banner) the session refuses every command
 * but QUIT, and nothing received so far is executed.
 */
export async function negotiateProxy(s: Session, timeoutMs: number): Promise<ProxyInfo | null> {
  const deadline = Date.now() + timeoutMs;
  let reason = "";
  for (;;) {
    try {
      const r = parseProxyHeader(s.input.view());
      if (r.status === "ok") {
        s.input.consume(r.length);
        if (s.input.buffered > 0) {
          reason = "input sent before the greeting after the PROXY header";
          break;
        }
        applyHeader(s, r.info);
        return r.info;
      }
    } catch (e) {
      if (!(e instanceof ProxyHeaderError)) throw e;
      reason = e.message;
      break;
    }
    const left = deadline - Date.now();
    const fill = left > 0 ? await s.input.fillWithin(left) : "timeout";
    if (fill === "eof") {
      s.close();
      return null;
    }
    if (fill === "timeout") {
      reason = `no PROXY header within ${timeoutMs} ms`;
      break;
    }
  }
  s.input.discard();
  s.refuseAll = PROXY_REFUSAL;
  s.deps.log.info(`PROXY negotiation failed from [${s.peer.ip}]:${s.peer.port}: ${reason}`, {
    event: "proxy_failed",
    ip: s.peer.ip,
    reason,
  });
  return null;
}

function applyHeader(s: Session, info: ProxyInfo): void {
  s.proxyInfo = info;
  // LOCAL (health checks) and UNKNOWN keep the balancer's own address (spec 2.1, 2.2).
  if (info.command !== "PROXY" || !info.source || info.family === "UNIX") return;
  s.proxy = { ip: s.peer.ip, port: s.peer.port };
  s.peer = { ip: info.source.address, port: info.source.port };
}
