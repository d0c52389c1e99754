import { makeCert } from "./clients.ts";
import {
  type ByteStream,
  connStream,
  ServerCredentials,
  upgradeServer,
} from "../../lib/tls/mod.ts";

/** What the scripted peer does with one command: a reply line(s), hang up, or never answer. */
export type PeerAction = string | "drop" | "hang" | undefined;

/** Script of a {@linkcode FakePeer}. */
export interface FakePeerOptions {
  /** The greeting, default `220 fake.test ESMTP`. `drop` closes at once. */
  greeting?: string;
  /** EHLO keywords after the first line (default PIPELINING, 8BITMIME, SIZE, DSN). */
  extensions?: string[];
  /** Replies to a command line before the defaults; undefined keeps the default. */
  onCommand?: (line: string) => PeerAction;
  /** Reply to the final dot, given the unstuffed body (default `250 2.0.0 Ok queued`). */
  onData?: (body: string) => PeerAction;
  /** Hang up after this many body bytes (a peer dying mid-DATA). */
  dropAfterDataBytes?: number;
  /** Certificate and key PEM files for STARTTLS. */
  tls?: { cert: string; key: string };
  /** Say 220 to STARTTLS, then send garbage instead of a TLS handshake. */
  brokenTls?: boolean;
  /** Credentials accepted by AUTH PLAIN/LOGIN. */
  auth?: { username: string; password: string };
  /** Address to listen on (default 127.0.0.1; `::1` for IPv6). */
  hostname?: string;
  /** AUTH mechanisms advertised (default `PLAIN LOGIN`). */
  authMechanisms?: string;
}

/** A received transaction. */
export interface PeerMessage {
  from: string;
  rcpts: string[];
  body: string;
  tls: boolean;
  authUser?: string;
}

/**
 * A scripted SMTP peer for faults a real server cannot show on demand (hanging up mid-DATA,
 * a broken TLS handshake) and for checking exactly what the client sent.
 */
export class FakePeer {
  /** Port on 127.0.0.1. */
  readonly port: number;
  /** Connections accepted. */
  sessions = 0;
  /** Every command line received, in order. */
  readonly commands: string[] = [];
  /** Transactions completed with a 250. */
  readonly messages: PeerMessage[] = [];
  #listener: Deno.TcpListener;
  #opts: FakePeerOptions;
  #creds?: ServerCredentials;
  #open = new Set<ByteStream>();
  #loop: Promise<void>;

  private constructor(
    listener: Deno.TcpListener,
    opts: FakePeerOptions,
    creds?: ServerCredentials,
  ) {
    this.#listener = listener;
    this.#opts = opts;
    this.#creds = creds;
    this.port = listener.addr.port;
    this.#loop = this.#accept();
  }

  /** Starts the peer on a random loopback port. */
  static async start(opts: FakePeerOptions = {}): Promise<FakePeer> {
    let creds: ServerCredentials | undefined;
    if (opts.tls) {
      creds = new ServerCredentials(opts.tls.cert, opts.tls.key);
      await creds.load();
    }
    return new FakePeer(
      Deno.listen({ hostname: opts.hostname ?? "127.0.0.1", port: 0 }),
      opts,
      creds,
    );
  }

  /** `127.0.0.1:port` (or `[::1]:port`). */
  get address(): string {
    const h = this.#opts.hostname ?? "127.0.0.1";
    return h.includes(":") ? `[${h}]:${this.port}` : `${h}:${this.port}`;
  }

  /** Stops listening and closes open sessions. */
  async close(): Promise<void> {
    this.#listener.close();
    for (const s of this.#open) s.close();
    await this.#loop;
  }

  async #accept(): Promise<void> {
    const running: Promise<void>[] = [];
    try {
      for await (const conn of this.#listener) {
        this.sessions++;
        running.push(this.#session(conn).catch(() => {}));
      }
    } catch { /* closed */ }
    await Promise.all(running);
  }

  async #session(conn: Deno.TcpConn): Promise<void> {
    let stream = connStream(conn);
    this.#open.add(stream);
    const o = this.#opts;
    const enc = new TextEncoder();
    let reader = new LineReader(stream);
    const send = (text: string) => stream.write(enc.encode(text.replace(/\n/g, "\r\n") + "\r\n"));
    try {
      const greeting = o.greeting ?? "220 fake.test ESMTP";
      if (greeting === "drop") return;
      await send(greeting);
      let tx: PeerMessage = { from: "", rcpts: [], body: "", tls: false };
      let tls = false;
      let authUser: string | undefined;
      for (;;) {
        const line = await reader.line();
        if (line === null) return;
        this.commands.push(line);
        const verb = line.split(/[\s:]/)[0].toUpperCase();
        const scripted = o.onCommand?.(line);
        if (scripted === "drop" || scripted === "hang") return;
        if (scripted !== undefined) {
          await send(scripted);
          if (scripted.startsWith("421")) return;
          continue;
        }
        if (verb === "EHLO") {
          const ext = o.extensions ?? ["PIPELINING", "8BITMIME", "SIZE 10240000", "DSN"];
          const all = [
            "fake.test Hello",
            ...ext,
            ...(o.auth ? [`AUTH ${o.authMechanisms ?? "PLAIN LOGIN"}`] : []),
          ];
          if ((o.tls || o.brokenTls) && !tls) all.push("STARTTLS");
          await send(all.map((l, i) => `250${i === all.length - 1 ? " " : "-"}${l}`).join("\n"));
        } else if (verb === "HELO") await send("250 fake.test");
        else if (verb === "STARTTLS") {
          await send("220 2.0.0 Ready to start TLS");
          if (o.brokenTls) {
            await stream.write(enc.encode("this is not TLS\r\n".repeat(20)));
            return;
          }
          const up = await upgradeServer(conn, this.#creds!, 5000);
          this.#open.delete(stream);
          stream = up.stream;
          this.#open.add(stream);
          reader = new LineReader(stream);
          tls = true;
        } else if (verb === "AUTH") {
          authUser = await this.#auth(line, reader, send);
        } else if (verb === "MAIL") {
          tx = { from: /<([^>]*)>/.exec(line)?.[1] ?? "", rcpts: [], body: "", tls, authUser };
          await send("250 2.1.0 Ok");
        } else if (verb === "RCPT") {
          tx.rcpts.push(/<([^>]*)>/.exec(line)?.[1] ?? "");
          await send("250 2.1.5 Ok");
        } else if (verb === "DATA") {
          await send("354 End data with <CR><LF>.<CR><LF>");
          const body = await reader.data(o.dropAfterDataBytes);
          if (body === null) return;
          tx.body = body;
          const reply = o.onData?.(body) ?? "250 2.0.0 Ok queued as FAKE";
          if (reply === "drop") return;
          if (reply === "hang") {
            while ((await reader.line()) !== null) { /* never answer */ }
            return;
          }
          if (reply.startsWith("2")) this.messages.push(tx);
          await send(reply);
        } else if (verb === "RSET") {
          tx = { from: "", rcpts: [], body: "", tls, authUser };
          await send("250 2.0.0 Ok");
        } else if (verb === "QUIT") {
          await send("221 2.0.0 Bye");
          return;
        } else await send("502 5.5.2 Error: command not recognized");
      }
    } finally {
      this.#open.delete(stream);
      stream.close();
    }
  }

  async #auth(
    line: string,
    reader: LineReader,
    send: (t: string) => Promise<void>,
  ): Promise<string | undefined> {
    const want = this.#opts.auth;
    const [, mech, initial] = line.split(/\s+/);
    let user = "", pass = "";
    if (mech.toUpperCase() === "PLAIN") {
      const parts = atob(initial ?? "").split("\0");
      [user, pass] = [parts[1], parts[2]];
    } else {
      await send("334 VXNlcm5hbWU6");
      user = atob((await reader.line()) ?? "");
      await send("334 UGFzc3dvcmQ6");
      pass = atob((await reader.line()) ?? "");
    }
    if (want && user === want.username && pass === want.password) {
      await send("235 2.7.0 Authentication successful");
      return user;
    }
    await send("535 5.7.8 Authentication credentials invalid");
    return undefined;
  }
}

class LineReader {
  #stream: ByteStream;
  #buf = "";
  #dec = new TextDecoder();
  constructor(stream: ByteStream) {
    this.#stream = stream;
  }

  async #more(): Promise<boolean> {
    const b = new Uint8Array(65536);
    const n = await this.#stream.read(b);
    if (n === null) return false;
    this.#buf += this.#dec.decode(b.subarray(0, n), { stream: true });
    return true;
  }

  async line(): Promise<string | null> {
    for (;;) {
      const i = this.#buf.indexOf("\r\n");
      if (i >= 0) {
        const l = this.#buf.slice(0, i);
        this.#buf = this.#buf.slice(i + 2);
        return l;
      }
      if (!(await this.#more())) return null;
    }
  }

  /** Reads DATA up to the final dot and unstuffs it; null when the peer should hang up. */
  async data(dropAfter?: number): Promise<string | null> {
    for (;;) {
      if (dropAfter !== undefined && this.#buf.length >= dropAfter) return null;
      const i = ("\r\n" + this.#buf).indexOf("\r\n.\r\n");
      if (i >= 0) {
        const raw = this.#buf.slice(0, Math.max(0, i - 2));
        this.#buf = this.#buf.slice(i + 3);
        if (i === 0) return "";
        return raw.split("\r\n").map((l) => l.startsWith(".") ? l.slice(1) : l).join("\r\n") +
          "\r\n";
      }
      if (!(await this.#more())) return null;
    }
  }
}

/** A self-signed certificate for a fake peer (the same helper the server tests use). */
export const selfSignedCert = (dir: string, name = "fake.test") => makeCert(dir, name);
