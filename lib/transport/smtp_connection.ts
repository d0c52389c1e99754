import type { Recipient } from "../envelope/mod.ts";
import {
  type ByteStream,
  certNames,
  type ClientTlsSession,
  connStream,
  type TlsaRecord,
  upgradeClient,
} from "../tls/mod.ts";
import { type TlsLevel, tlsRequired } from "./tls_policy.ts";
import { dotStuff } from "./dot_stuff.ts";
import { SmtpClientError } from "./errors.ts";
import { ReplyReader } from "./reply_reader.ts";
import { cannotCarry, mailParams, rcptParams } from "./smtp_params.ts";
import {
  formatReply,
  type OutboundMessage,
  type RecipientResult,
  type RemoteInfo,
  type SmtpReply,
} from "./types.ts";

/** Time limits in milliseconds (RFC 5321 4.5.3.2 suggests minutes for each). */
export interface SmtpTimeouts {
  /** TCP connect. */
  connect: number;
  /** Greeting and each command's reply. */
  command: number;
  /** Sending the body and waiting for the reply to the final dot. */
  data: number;
}

/** Where and how to open a client session. */
export interface ConnectOptions {
  /** Host name (for logs, SNI and bounces). */
  host: string;
  /** IP address to connect to. */
  ip: string;
  /** Port (25 for MX delivery). */
  port: number;
  /** Our name for EHLO/HELO. */
  helo: string;
  /** TLS security level (DANE levels arrive here with `dane` set, or downgraded). */
  tls: TlsLevel;
  /** Trust anchors for `verify` (default the system CA bundle). */
  caFile?: string;
  /** Names the certificate must carry under `verify` and DANE-TA: the MX host or smarthost. */
  referenceNames?: string[];
  /** DANE: the host's usable TLSA records and their base domain (RFC 7672 2.2.3). */
  dane?: { records: TlsaRecord[]; baseDomain: string };
  /** The usages among every TLSA record found, bit n for usage n (`tls_out_tlsa_usage`). */
  tlsaUsage?: number;
  /** The DANE outcome when DANE does not apply (for example `dane=insecure`), for logs. */
  daneNote?: string;
  /** Credentials for AUTH PLAIN/LOGIN (smarthosts). */
  auth?: { username: string; password: string };
  /** Time limits. */
  timeouts: SmtpTimeouts;
}

/** What one transaction on a connection decided. */
export interface TransactionResult {
  /** One result per recipient given. */
  results: RecipientResult[];
  /** Recipients deferred by a message- or connection-level problem: try another host. */
  tryElsewhere: Set<string>;
}

/**
 * One outbound ESMTP session: greeting, EHLO (HELO fallback), STARTTLS, AUTH, then any number
 * of transactions (connection reuse), then QUIT. Never sends what the peer cannot take.
 */
export class SmtpConnection {
  /** The peer, with its greeting and EHLO reply for bounces. */
  readonly remote: RemoteInfo;
  /** EHLO keywords, upper case, with their parameters. */
  extensions = new Map<string, string>();
  /** False once the connection is lost or in an unknown state. */
  usable = true;
  /** Transactions completed on this connection. */
  transactions = 0;
  #opts: ConnectOptions;
  #conn!: Deno.TcpConn;
  #stream!: ByteStream;
  #reader!: ReplyReader;
  #enc = new TextEncoder();

  private constructor(opts: ConnectOptions) {
    this.#opts = opts;
    this.remote = { host: opts.host, ip: opts.ip, port: opts.port };
    if (opts.tlsaUsage !== undefined) this.remote.tlsaUsage = opts.tlsaUsage;
    if (opts.daneNote) this.remote.dane = opts.daneNote;
  }

  /**
   * Connects and gets the session ready to send: greeting, EHLO, STARTTLS per policy, AUTH.
   * In opportunistic mode a failed TLS handshake is retried once in clear text.
   *
   * @throws {SmtpClientError} when the peer cannot be reached or refuses the session
   */
  static async open(opts: ConnectOptions): Promise<SmtpConnection> {
    const c = new SmtpConnection(opts);
    try {
      await c.#start(opts.tls !== "none");
      return c;
    } catch (e) {
      c.close();
      if (e instanceof SmtpClientError) e.remote ??= { ...c.remote };
      // Only `may` falls back to clear text; a failed check never does.
      if (e instanceof TlsHandshakeError && opts.tls === "may" && !opts.dane) {
        const clear = new SmtpConnection(opts);
        try {
          await clear.#start(false);
          return clear;
        } catch (e2) {
          clear.close();
          if (e2 instanceof SmtpClientError) e2.remote ??= { ...clear.remote };
          throw e2;
        }
      }
      throw e;
    }
  }

  async #start(useTls: boolean): Promise<void> {
    const o = this.#opts;
    try {
      this.#conn = await Deno.connect({
        hostname: o.ip,
        port: o.port,
        signal: AbortSignal.timeout(o.timeouts.connect),
      } as Deno.ConnectOptions);
    } catch (e) {
      const why = (e as Error).name === "TimeoutError"
        ? "timed out"
        : (e as Error).message.replace(/ \(os error \d+\)$/, "");
      throw new SmtpClientError(`Cannot connect to ${o.host} [${o.ip}]:${o.port}: ${why}`, {
        connectionLost: true,
        cause: e,
      });
    }
    this.#conn.setNoDelay(true);
    this.#stream = connStream(this.#conn);
    this.#reader = new ReplyReader(this.#stream);
    const greeting = await this.#reader.read(o.timeouts.command, "the greeting");
    this.remote.greeting = firstLine(greeting);
    // A 5xx greeting means "not here, not now" for this host (RFC 5321 3.1): like Postfix
    // (smtp_skip_5xx_greeting) we try the next host and defer rather than bounce.
    if (greeting.code !== 220) this.#refuse("the greeting", greeting, false);
    await this.#hello();
    if (useTls && this.extensions.has("STARTTLS")) {
      await this.#starttls();
    } else if (o.dane) {
      // RFC 7672 2.2: usable TLSA records make TLS mandatory.
      throw new TlsPolicyError(
        `4.7.5 ${o.host} [${o.ip}] has TLSA records but did not offer STARTTLS ` +
          `(dane=fail tls_out_tlsa_usage=${this.remote.tlsaUsage ?? 0})`,
      );
    } else if (tlsRequired(o.tls)) {
      throw new TlsPolicyError(`TLS is required, but ${o.host} did not offer STARTTLS`);
    }
    if (o.auth) await this.#authenticate(o.auth);
  }

  /** Throws for a non-success reply: 5xx permanent, 4xx temporary; 421 closes. */
  #refuse(after: string, r: SmtpReply, permanent = r.code >= 500): never {
    throw new SmtpClientError(
      `SMTP error from remote mail server after ${after}: ${formatReply(r)}`,
      {
        permanent,
        reply: r,
        connectionLost: r.code === 421,
      },
    );
  }

  async #hello(): Promise<void> {
    const o = this.#opts;
    let r = await this.#command(`EHLO ${o.helo}`);
    this.extensions.clear();
    if (r.code === 250) {
      this.#parseExtensions(r);
    } else if (r.code >= 500 && r.code !== 554) {
      // RFC 5321 3.2: a server that does not know EHLO gets HELO.
      r = await this.#command(`HELO ${o.helo}`);
      if (r.code !== 250) this.#refuse(`HELO ${o.helo}`, r);
    } else {
      this.#refuse(`EHLO ${o.helo}`, r);
    }
    this.remote.heloResponse ??= firstLine(r);
    this.remote.dsn = this.extensions.has("DSN");
  }

  #parseExtensions(r: SmtpReply): void {
    for (const line of (r.lines ?? []).slice(1)) {
      const [kw, ...rest] = line.trim().split(/\s+/);
      if (kw) this.extensions.set(kw.toUpperCase(), rest.join(" "));
    }
  }

  async #starttls(): Promise<void> {
    const o = this.#opts;
    let session: ClientTlsSession;
    const r = await this.#command("STARTTLS");
    if (r.code !== 220) {
      if (tlsRequired(o.tls) || o.dane) this.#refuse("STARTTLS", r);
      return; // opportunistic: carry on in clear text (RFC 3207 4.1)
    }
    try {
      session = await upgradeClient(this.#conn, {
        servername: o.host,
        caFile: o.caFile,
        referenceNames: o.referenceNames ?? [o.host],
        dane: o.dane,
        timeout: o.timeouts.command,
      });
      this.#stream = session.stream;
      this.#reader.setStream(session.stream);
      this.remote.tls = `${session.version}:${session.cipher}`;
    } catch (e) {
      throw new TlsHandshakeError(`TLS with ${o.host} [${o.ip}] failed: ${(e as Error).message}`, {
        cause: e,
      });
    }
    this.#checkPeer(session);
    // RFC 3207 4.2: forget what we knew and say EHLO again.
    const keepHelo = this.remote.heloResponse;
    await this.#hello();
    this.remote.heloResponse = keepHelo;
  }

  /** Applies the security level to what the handshake showed; throws when it falls short. */
  #checkPeer(session: ClientTlsSession): void {
    const o = this.#opts;
    const who = `${o.host} [${o.ip}]`;
    const refs = (o.referenceNames ?? [o.host]).join(", ");
    if (o.dane) {
      const tlsa = o.dane.records.map((r) =>
        `${r.usage} ${r.selector} ${r.matchingType} ` +
        Array.from(r.data.subarray(0, 8), (b) => b.toString(16).padStart(2, "0")).join("") + "…"
      );
      this.remote.tlsaUsage ??= o.dane.records.reduce((bits, r) => bits | (1 << r.usage), 0);
      const m = session.dane;
      // RFC 7672 3.2.2: DANE-TA also needs the name; our RFC 6125 check on top of OpenSSL's.
      if (m && session.verify.code === 0 && (m.usage === 3 || session.matchedName)) {
        this.remote.dane = `dane=ok usage=${m.usage} depth=${m.depth}`;
        this.remote.verified = true;
        return;
      }
      this.remote.dane = `dane=fail ${session.verify.text}`;
      throw new TlsPolicyError(
        `4.7.5 DANE authentication of ${who} failed: no certificate matched TLSA ` +
          `${o.dane.baseDomain} ${tlsa.join(", ")} (${
            m ? `name not ${refs}` : session.verify.text
          }); server sent ${describeLeaf(session)}; tls_out_tlsa_usage=${this.remote.tlsaUsage}`,
      );
    }
    if (o.tls !== "verify") return;
    if (session.verify.code !== 0) {
      throw new TlsPolicyError(
        `4.7.5 TLS certificate of ${who} could not be verified: ${session.verify.text}; ` +
          `server sent ${describeLeaf(session)}`,
      );
    }
    if (!session.matchedName) {
      throw new TlsPolicyError(
        `4.7.5 TLS certificate of ${who} does not name ${refs}; server sent ${
          describeLeaf(session)
        }`,
      );
    }
    this.remote.verified = true;
  }

  async #authenticate(auth: { username: string; password: string }): Promise<void> {
    const mechs = (this.extensions.get("AUTH") ?? "").toUpperCase().split(/\s+/);
    let r: SmtpReply;
    if (mechs.includes("PLAIN")) {
      // RFC 4616 2: authzid NUL authcid NUL passwd
      const token = b64(`\0${auth.username}\0${auth.password}`);
      r = await this.#command(`AUTH PLAIN ${token}`, "AUTH PLAIN");
    } else if (mechs.includes("LOGIN")) {
      r = await this.#command("AUTH LOGIN");
      if (r.code === 334) r = await this.#command(b64(auth.username), "AUTH LOGIN username");
      if (r.code === 334) r = await this.#command(b64(auth.password), "AUTH LOGIN password");
    } else {
      throw new SmtpClientError(
        `${this.#opts.host} offers no AUTH mechanism we can use (PLAIN, LOGIN)`,
      );
    }
    // Authentication problems are configuration problems: defer, never bounce.
    if (r.code !== 235) {
      throw new SmtpClientError(`Authentication failed: ${formatReply(r)}`, { reply: r });
    }
  }

  /** Sends one command and reads its reply (with the raw lines kept for EHLO). */
  async #command(line: string, what = line): Promise<SmtpReply> {
    await this.#write(this.#enc.encode(line + "\r\n"));
    return await this.#read(what);
  }

  async #read(what: string, timeout = this.#opts.timeouts.command): Promise<SmtpReply> {
    try {
      return await this.#reader.read(timeout, what);
    } catch (e) {
      this.usable = false;
      throw e;
    }
  }

  async #write(data: Uint8Array, timeout = this.#opts.timeouts.command): Promise<void> {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      this.#stream.close();
    }, timeout);
    try {
      await this.#stream.write(data);
    } catch (e) {
      this.usable = false;
      throw new SmtpClientError(
        timedOut ? "Timeout sending to the peer" : `Connection lost: ${(e as Error).message}`,
        { connectionLost: true, cause: e },
      );
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Runs one mail transaction (MAIL, RCPT..., DATA) for the recipients and says what
   * happened to each. Connection problems do not throw: the undecided recipients come back
   * deferred and listed in `tryElsewhere`.
   */
  async send(message: OutboundMessage, recipients: Recipient[]): Promise<TransactionResult> {
    const tryElsewhere = new Set<string>();
    const results = new Map<string, RecipientResult>();
    // RFC 5321 4.5.3.1.10: 552 at RCPT means "too many recipients", to be taken as 452.
    const decide = (address: string, r: SmtpReply, after: string, temporary = false) => {
      const status = r.code < 300 ? "delivered" : r.code < 500 || temporary ? "deferred" : "failed";
      const diagnostic = r.code < 300
        ? formatReply(r)
        : `SMTP error from remote mail server after ${after}: ${formatReply(r)}`;
      results.set(address, { address, status, reply: r, diagnostic, remote: { ...this.remote } });
    };
    const finish = (): TransactionResult => ({
      results: recipients.map((r) => results.get(r.address)!),
      tryElsewhere,
    });
    const undecided = (diagnostic: string, status: "deferred" | "failed" = "deferred") => {
      for (const r of recipients) {
        if (results.has(r.address)) continue;
        results.set(r.address, {
          address: r.address,
          status,
          diagnostic,
          remote: { ...this.remote },
        });
        if (status === "deferred") tryElsewhere.add(r.address);
      }
    };
    const refusal = await cannotCarry(message, this.extensions, this.remote.host);
    if (refusal) {
      undecided(refusal, "failed");
      return finish();
    }
    try {
      await this.#transaction(message, recipients, decide, tryElsewhere);
      this.transactions++;
    } catch (e) {
      this.usable = false;
      undecided((e as Error).message);
    }
    return finish();
  }

  async #transaction(
    message: OutboundMessage,
    recipients: Recipient[],
    decide: (address: string, r: SmtpReply, after: string, temporary?: boolean) => void,
    tryElsewhere: Set<string>,
  ): Promise<void> {
    const env = message.envelope;
    const sender = env.srsSender ?? env.sender;
    const mail = `MAIL FROM:<${sender}>${mailParams(message.envelope, this.extensions)}`;
    const rcpts = recipients.map((r) => `RCPT TO:<${r.address}>${rcptParams(r, this.extensions)}`);
    const pipelining = this.extensions.has("PIPELINING");
    // RFC 2920 3.1: MAIL, the RCPTs and DATA may go in one write (DATA last); the replies
    // come back in order, and a server with no accepted recipient refuses DATA.
    if (pipelining) {
      await this.#write(this.#enc.encode([mail, ...rcpts, "DATA"].join("\r\n") + "\r\n"));
    } else await this.#write(this.#enc.encode(mail + "\r\n"));
    const mailReply = await this.#read(mail);
    if (mailReply.code === 421) {
      throw new SmtpClientError(`Peer closed the session: ${formatReply(mailReply)}`);
    }
    const accepted: Recipient[] = [];
    for (let i = 0; i < recipients.length; i++) {
      if (mailReply.code >= 300) {
        decide(recipients[i].address, mailReply, mail);
        if (mailReply.code < 500) tryElsewhere.add(recipients[i].address);
        if (!pipelining) continue;
      } else if (!pipelining) await this.#write(this.#enc.encode(rcpts[i] + "\r\n"));
      const r = await this.#read(rcpts[i]);
      if (r.code === 421) throw new SmtpClientError(`Peer closed the session: ${formatReply(r)}`);
      if (mailReply.code >= 300) continue;
      if (r.code < 300) accepted.push(recipients[i]);
      else decide(recipients[i].address, r, rcpts[i], r.code === 552);
    }
    if (accepted.length === 0 && !pipelining) {
      await this.#reset();
      return;
    }
    const data = pipelining ? await this.#read("DATA") : await this.#command("DATA");
    if (accepted.length === 0) {
      // A server that says 354 with no recipient gets an empty message, then RSET.
      if (data.code === 354) await this.#command(".", "end of empty data");
      await this.#reset();
      return;
    }
    if (data.code !== 354) {
      for (const r of accepted) {
        decide(r.address, data, "DATA");
        if (data.code < 500) tryElsewhere.add(r.address);
      }
      if (data.code === 421) {
        throw new SmtpClientError(`Peer closed the session: ${formatReply(data)}`);
      }
      await this.#reset();
      return;
    }
    for await (const chunk of dotStuff(message.body())) {
      await this.#write(chunk, this.#opts.timeouts.data);
    }
    const final = await this.#read("end of data", this.#opts.timeouts.data);
    for (const r of accepted) {
      decide(r.address, final, "end of data");
      if (final.code >= 400 && final.code < 500) tryElsewhere.add(r.address);
    }
    if (final.code === 421) this.usable = false;
  }

  async #reset(): Promise<void> {
    const r = await this.#command("RSET");
    if (r.code !== 250) this.usable = false;
  }

  /** Says QUIT (best effort) and closes. */
  async quit(): Promise<void> {
    if (this.usable) {
      try {
        await this.#write(this.#enc.encode("QUIT\r\n"), 2000);
        await this.#reader.read(2000, "QUIT");
      } catch { /* closing anyway */ }
    }
    this.close();
  }

  /** Closes the connection at once. */
  close(): void {
    this.usable = false;
    try {
      this.#stream?.close();
    } catch { /* closed */ }
  }
}

/** The TLS handshake failed after the peer said 220 to STARTTLS. */
export class TlsHandshakeError extends SmtpClientError {
  /** Creates the error. */
  constructor(message: string, opts: { cause?: unknown } = {}) {
    super(message, { connectionLost: true, cause: opts.cause });
    this.name = "TlsHandshakeError";
  }
}

/** A TLS security check failed: defer, and never retry this host in clear text. */
export class TlsPolicyError extends SmtpClientError {
  /** Creates the error. */
  constructor(message: string) {
    super(message, { connectionLost: false });
    this.name = "TlsPolicyError";
  }
}

function describeLeaf(s: ClientTlsSession): string {
  if (s.peerChain.length === 0) return "no certificate";
  try {
    const n = certNames(s.peerChain[0]);
    const names = n.dnsNames.length ? n.dnsNames.map((d) => `DNS:${d}`) : n.commonNames;
    return `a certificate for ${names.join(", ") || "no name"}`;
  } catch {
    return "an unreadable certificate";
  }
}

function firstLine(r: SmtpReply): string {
  return `${r.code} ${r.lines?.[0] ?? r.text}`.trimEnd().slice(0, 300);
}

function b64(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}
