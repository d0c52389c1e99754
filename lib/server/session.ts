import type { Config, ListenConfig } from "../config/mod.ts";
import { concat } from "./bytes.ts";
import type { Logger } from "../log/mod.ts";
import { logValue } from "../log/mod.ts";
import type { FreeSpace, Mutation, Spool } from "../spool/mod.ts";
import type { Envelope } from "../envelope/mod.ts";
import { parseCommand, Reply, reply, SmtpSyntaxError } from "../smtp/mod.ts";
import type { ByteStream, ServerCredentials, TlsSessionInfo } from "../tls/mod.ts";
import type { AuthFailureLimiter, CredentialStore } from "../auth/mod.ts";
import type { ProxyInfo } from "../proxy/mod.ts";
import { InputBuffer, LINE_TOO_LONG } from "./input.ts";
import { gate } from "./policy_gate.ts";
import type { SenderAuth } from "./sender_auth.ts";
import { type Decision, type Policy, PolicySession, type Stage } from "../policy/mod.ts";
import type { Transaction } from "./transaction.ts";

/** A reply the session does not send (the handler already answered, or the client left). */
export const NO_REPLY: Reply = new Reply(0, null, "");

/** What every session of a server shares. */
export interface SessionDeps {
  config: Config;
  listener: ListenConfig;
  spool: Spool;
  log: Logger;
  /** Lookup tables and compiled ACLs. */
  policy: Policy;
  tls: ServerCredentials | null;
  credentials: CredentialStore | null;
  authLimiter: AuthFailureLimiter;
  /** The spool's free-space reserve; absent: not checked (in-memory spool, reserve 0). */
  freeSpace?: FreeSpace | null;
  /** Queue index writes committed together with each accepted message. */
  indexMutations?: (envelope: Envelope) => Mutation[];
  /** Called after a message is durably accepted (wakes the queue runner). */
  accepted?: (envelope: Envelope) => void;
  /** SPF, DKIM, DMARC, ARC and signing; absent: no sender authentication. */
  senderAuth?: SenderAuth | null;
  /** Called with every ACL decision (test-session prints them). */
  trace?: (stage: Stage, decision: Decision) => void;
  /** Run everything but the spool commit (test-session): messages are not queued. */
  dryRun?: boolean;
  /** The handler of each verb (verbs.ts). */
  verbs: Readonly<Record<string, VerbHandler>>;
}

/** Handles one verb; returns the reply (the session sends it). */
export type VerbHandler = (s: Session, arg: string) => Reply | Promise<Reply>;

/** The client as the session sees it (the original client when PROXY was used). */
export interface Peer {
  ip: string;
  port: number;
  hostname?: string;
}

// RFC 2920 3.1, RFC 3207, RFC 4954: these must end a pipelined group.
const GROUP_ENDERS = new Set(["EHLO", "HELO", "DATA", "VRFY", "EXPN", "NOOP", "HELP", "AUTH"]);

const decoder = new TextDecoder();
const strictDecoder = new TextDecoder("utf-8", { fatal: true });

// RFC 6531 3.3: addresses must be well-formed UTF-8; other commands are ASCII (RFC 5321 2.4).
const MALFORMED_UTF8: Record<string, Reply> = {
  MAIL: reply(553, "5.1.7", "Bad sender address syntax: not valid UTF-8"),
  RCPT: reply(553, "5.1.3", "Bad recipient address syntax: not valid UTF-8"),
};
const MALFORMED_COMMAND = reply(500, "5.5.2", "Command is not valid UTF-8");

/**
 * One SMTP session (RFC 5321) on one connection. The loop reads command lines, dispatches
 * each verb to its handler (verbs.ts) and batches replies: they are written when no complete
 * command is left in the input (RFC 2920 PIPELINING), so a pipelined group costs one write.
 */
export class Session {
  readonly deps: SessionDeps;
  /** The TCP connection; null when driven without one (test-session: no STARTTLS). */
  readonly conn: Deno.Conn | null;
  stream: ByteStream;
  input: InputBuffer;
  peer: Peer;
  /** The PROXY protocol's sender, when the connection came through one. */
  proxy?: { ip: string; port: number };
  /** The whole PROXY header (addresses, TLVs), for policy conditions. */
  proxyInfo?: ProxyInfo;
  helo: string | null = null;
  esmtp = false;
  tls: TlsSessionInfo | null = null;
  authUser: string | null = null;
  authMechanism: string | null = null;
  authFailures = 0;
  tx: Transaction | null = null;
  /** The policy side of this connection (set by {@linkcode Session.startPolicy}). */
  policy!: PolicySession;
  /** Headers ACL rules asked to add to the current message. */
  pendingHeaders: string[] = [];
  /** The client is in trusted_networks (set with the policy context). */
  trustedClient = false;
  /** QUIT was received (for the quit/notquit ACL stages). */
  quitSeen = false;
  errors = 0;
  closed = false;
  /** When set, every command but QUIT gets this reply (failed PROXY negotiation). */
  refuseAll: Reply | null = null;
  #out: Uint8Array[] = [];
  #closeDone: Promise<void> = Promise.resolve();

  /** Creates a session over an accepted connection. */
  constructor(conn: Deno.Conn | null, stream: ByteStream, deps: SessionDeps, peer: Peer) {
    this.conn = conn;
    this.stream = stream;
    this.input = new InputBuffer(stream);
    this.deps = deps;
    this.peer = peer;
  }

  /** Creates the policy context once the client's real address (after PROXY) is known. */
  startPolicy(): void {
    const info = this.proxyInfo;
    const proxy: Record<string, string | number | boolean> = {};
    if (this.proxy) {
      Object.assign(proxy, {
        session: true,
        host_address: this.proxy.ip,
        host_port: this.proxy.port,
        target_address: info?.destination?.address ?? "",
        target_port: info?.destination?.port ?? 0,
      });
      if (info?.alpn) proxy.alpn = info.alpn;
      if (info?.authority) proxy.authority = info.authority;
      if (info?.ssl?.version) proxy.tls_version = info.ssl.version;
      if (info?.ssl?.cipher) proxy.tls_cipher = info.ssl.cipher;
      if (info?.ssl) proxy.tls_client_verified = info.ssl.verified;
    }
    this.policy = new PolicySession(this.deps.policy.engine, this.deps.policy.relay, {
      ip: this.peer.ip,
      port: this.peer.port,
      hostname: this.peer.hostname,
      proxy,
    });
  }

  /** Ends the mail transaction (after DATA, RSET, a refused MAIL). */
  endTransaction(): void {
    this.tx?.body?.drop(); // a body not stored leaves nothing in the spool
    this.tx = null;
    this.pendingHeaders = [];
    this.policy.endMessage();
  }

  /** Config shorthand. */
  get config(): Config {
    return this.deps.config;
  }

  /** `H=` text for log lines: `host (helo) [ip]:port`. */
  get hostText(): string {
    const name = this.peer.hostname ? `${this.peer.hostname} ` : "";
    const helo = this.helo ? `(${logValue(this.helo)}) ` : "";
    return `H=${name}${helo}[${this.peer.ip}]:${this.peer.port}`;
  }

  /** Queues a reply for the next write. */
  send(r: Reply): void {
    this.#out.push(r.toBytes());
  }

  /** Writes queued replies in one write. */
  async flush(): Promise<void> {
    if (this.#out.length === 0 || this.closed) return;
    const parts = this.#out;
    this.#out = [];
    const data = parts.length === 1 ? parts[0] : concat(parts);
    try {
      await this.stream.write(data);
    } catch {
      this.close();
    }
  }

  /** Sends a reply now and closes the connection. */
  async sendAndClose(r: Reply): Promise<void> {
    this.send(r);
    await this.flush();
    this.close();
  }

  /** Closes the connection. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.#closeDone = Promise.resolve(this.stream.close()).catch(() => {});
  }

  /** Resolves once the connection is closed (a TLS close finishes in the background). */
  get whenClosed(): Promise<void> {
    return this.#closeDone;
  }

  /**
   * Ends a wait for input that ran past its deadline: 421 4.4.2, then close. Called by the
   * server's sweeper; the pending read then ends and the session sees "timeout".
   */
  expire(): void {
    if (this.closed) return;
    this.input.expire();
    const r = reply(421, "4.4.2", `${this.config.server.hostname} Timeout, closing connection`);
    this.stream.write(r.toBytes()).catch(() => {}).finally(() => this.close());
  }

  /** Logs a rejected command in Exim's style. */
  logReject(command: string, r: Reply): void {
    const from = this.tx ? ` F=<${this.tx.sender}>` : "";
    this.deps.log.info(`${this.hostText}${from} rejected ${command}: ${r.summary}`, {
      event: "reject",
      ip: this.peer.ip,
      command,
      reply: r.summary,
    });
  }

  /** Sends the greeting (RFC 5321 4.3.1) after the early-talker check. */
  async greet(): Promise<void> {
    const { greeting_delay, sync_check } = this.config.smtp;
    if (sync_check) {
      this.input.startRead();
      // With no delay, one turn of the event loop still lets input that arrived before the
      // banner complete the read started above (a microtask would not: nothing polls I/O).
      await new Promise((r) => setTimeout(r, greeting_delay));
      if (this.#talkedEarly()) return await this.#refuseEarlyTalker();
    }
    const connect = await gate(this, "connect", {}, "connection");
    if (!connect.pass) {
      await this.sendAndClose(connect.reply.closing());
      return;
    }
    // Checked again as the banner goes out: input that came during the connect ACL.
    if (sync_check && this.#talkedEarly()) return await this.#refuseEarlyTalker();
    this.send(new Reply(220, null, `${this.config.server.hostname} ${this.config.smtp.banner}`));
    await this.flush();
  }

  #talkedEarly(): boolean {
    return this.input.readDone || this.input.buffered > 0;
  }

  async #refuseEarlyTalker(): Promise<void> {
    this.deps.log.info(
      `SMTP protocol synchronization error (input sent without waiting for greeting): ` +
        `rejected connection from ${this.hostText}`,
      { event: "early_talker", ip: this.peer.ip },
    );
    await this.sendAndClose(reply(554, "5.5.0", "SMTP synchronization error"));
  }

  /** Runs the command loop until QUIT, an error that closes, or the client goes away. */
  async run(): Promise<void> {
    const { max_line_length, command_timeout, max_errors, sync_check } = this.config.smtp;
    while (!this.closed) {
      const line = this.input.takeLine(max_line_length);
      if (line === null) {
        await this.flush();
        if (this.closed) break;
        const r = await this.input.fill(command_timeout);
        if (r === "eof") {
          this.deps.log.info(
            `unexpected disconnection while reading SMTP command from ${this.hostText}`,
            {
              event: "lost",
              ip: this.peer.ip,
            },
          );
          break;
        }
        if (r === "timeout") {
          // The server's sweeper has sent 421 and closed the connection.
          this.deps.log.info(`SMTP command timeout on connection from ${this.hostText}`, {
            event: "timeout",
            ip: this.peer.ip,
          });
          break;
        }
        continue;
      }
      let r: Reply;
      if (line === LINE_TOO_LONG) {
        r = reply(500, "5.5.2", "Line too long");
      } else if (line.bareLf && this.config.smtp.bare_newline === "reject") {
        r = reply(500, "5.5.2", "Bare <LF> received; lines must end in <CR><LF>");
      } else {
        let text: string;
        let malformed = false;
        try {
          text = strictDecoder.decode(line.bytes);
        } catch {
          text = decoder.decode(line.bytes); // only to name the verb and log the line
          malformed = true;
        }
        const cmd = parseCommand(text);
        const verb = cmd?.verb ?? "";
        if (sync_check && this.#outOfSync(verb)) {
          this.deps.log.info(
            `SMTP protocol synchronization error (next input sent too soon: pipelining was` +
              `${this.esmtp ? "" : " not"} advertised): rejected "${verb}" ${this.hostText}`,
            { event: "sync_error", ip: this.peer.ip },
          );
          await this.sendAndClose(reply(554, "5.5.0", "SMTP synchronization error"));
          break;
        }
        r = malformed && verb !== "QUIT" && !this.refuseAll
          ? this.#malformed(verb, text)
          : await this.dispatch(verb, cmd?.arg ?? "", text);
      }
      if (this.closed) break;
      if (r === NO_REPLY) continue;
      if (r.code >= 500 && r.code !== 552 && r.code !== 554 && r.code !== 535) this.errors++;
      if (r.close) {
        await this.sendAndClose(r);
        break;
      }
      this.send(r);
      if (this.errors >= max_errors) {
        this.deps.log.info(
          `SMTP call from ${this.hostText} dropped: too many syntax or protocol errors`,
          {
            event: "too_many_errors",
            ip: this.peer.ip,
          },
        );
        await this.sendAndClose(
          reply(421, "4.7.0", `${this.config.server.hostname} Too many errors`),
        );
      }
    }
    await this.flush();
    this.close();
  }

  /**
   * RFC 2920 3.1: a command that ends a pipelined group must not have input queued behind
   * it, and without EHLO there is no pipelining at all (Exim's smtp_enforce_sync). STARTTLS
   * is exempt: its handler discards what follows instead (CVE-2011-0411).
   */
  #outOfSync(verb: string): boolean {
    if (this.input.buffered === 0 || verb === "QUIT" || verb === "STARTTLS") return false;
    return !this.esmtp || GROUP_ENDERS.has(verb);
  }

  /** The reply to a command line that is not well-formed UTF-8 (never decoded with U+FFFD). */
  #malformed(verb: string, text: string): Reply {
    const r = MALFORMED_UTF8[verb] ?? MALFORMED_COMMAND;
    this.logReject(`"${text.slice(0, 64)}"`, r);
    return r;
  }

  /** Runs one verb's handler; a syntax error becomes its reply. */
  async dispatch(verb: string, arg: string, text: string): Promise<Reply> {
    if (this.refuseAll && verb !== "QUIT") return this.refuseAll;
    const handler = this.deps.verbs[verb];
    if (!handler) {
      const r = reply(500, "5.5.2", "Command unrecognized");
      this.logReject(`"${text.slice(0, 64)}"`, r);
      return r;
    }
    try {
      return await handler(this, arg);
    } catch (e) {
      if (e instanceof SmtpSyntaxError) return e.reply;
      throw e;
    }
  }
}
