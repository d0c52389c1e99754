import type { Config } from "../config/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { Decision, Policy, Stage } from "../policy/mod.ts";
import type { Spool } from "../spool/mod.ts";
import { AuthFailureLimiter } from "../auth/mod.ts";
import type { ByteStream } from "../tls/mod.ts";
import { Session } from "./session.ts";
import { VERBS } from "./verbs.ts";
import type { SenderAuth } from "./sender_auth.ts";

/** What {@linkcode runTestSession} needs. */
export interface TestSessionOptions {
  config: Config;
  spool: Spool;
  log: Logger;
  policy: Policy;
  /** The client address and port to pretend. */
  ip: string;
  port: number;
  /** The client's host name, if it should have one. */
  hostname?: string;
  /** SMTP input, as the client would send it. */
  input: string;
  /** Receives every output line: commands (`>>> `), replies, ACL traces. */
  print: (line: string) => void;
  /** SPF, DKIM, DMARC and ARC checks, as the server runs them. */
  senderAuth?: SenderAuth;
  /** Treat the client as in trusted_networks (no inbound checks, signing instead). */
  trusted?: boolean;
  /** Receives each ACL decision. */
  trace: (stage: Stage, decision: Decision) => void;
}

/**
 * Runs SMTP input through the real session and policy code without a socket and without
 * queueing anything (Exim's `-bh`). Commands are fed one line at a time so the session answers
 * each before it sees the next.
 */
export async function runTestSession(o: TestSessionOptions): Promise<void> {
  const lines = o.input.split(/(?<=\n)/);
  const enc = new TextEncoder();
  const dec = new TextDecoder();
  let closed = false;
  const stream: ByteStream = {
    read(p) {
      const line = lines.shift();
      if (line === undefined || closed) return Promise.resolve(null);
      o.print(`>>> ${line.replace(/\r?\n$/, "")}`);
      const bytes = enc.encode(line.endsWith("\r\n") ? line : line.replace(/\n$/, "\r\n"));
      p.set(bytes.subarray(0, p.length));
      return Promise.resolve(Math.min(bytes.length, p.length));
    },
    write(p) {
      for (const l of dec.decode(p).split("\r\n").filter(Boolean)) o.print(l);
      return Promise.resolve();
    },
    close() {
      closed = true;
    },
  };
  const listener = o.config.listen[0];
  const s = new Session(null, stream, {
    config: { ...o.config, smtp: { ...o.config.smtp, sync_check: false } },
    listener,
    spool: o.spool,
    log: o.log,
    policy: o.policy,
    tls: null,
    credentials: null,
    authLimiter: new AuthFailureLimiter(1000, 1),
    verbs: VERBS,
    trace: o.trace,
    senderAuth: o.senderAuth ?? null,
    dryRun: true,
  }, { ip: o.ip, port: o.port, hostname: o.hostname });
  s.trustedClient = o.trusted ?? false;
  s.startPolicy();
  await s.greet();
  if (!s.closed) await s.run();
}
