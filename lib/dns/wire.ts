// @ts-types="./dns_packet.d.ts"
import * as packet from "dns-packet";
import { Buffer } from "node:buffer";
import dgram from "node:dgram";
import type { HostPort } from "../net/mod.ts";

/** A decoded resource record (the fields this project reads). */
export interface Answer {
  name: string;
  type: string;
  ttl?: number;
  class?: string;
  data?: unknown;
}

/** A decoded DNS message (the fields this project reads). */
export interface Packet {
  id?: number;
  type?: "query" | "response";
  rcode?: string;
  flag_tc?: boolean;
  flag_ad?: boolean;
  flag_aa?: boolean;
  questions?: { name: string; type: string }[];
  answers?: Answer[];
  authorities?: Answer[];
  additionals?: Answer[];
}

/** Decodes a DNS message. */
export function decode(bytes: Uint8Array): Packet {
  return packet.decode(Buffer.from(bytes));
}

/** One question to send. */
export interface Question {
  name: string;
  type: packet.RecordType;
}

/** Limits of one exchange with one server. */
export interface ExchangeOptions {
  /** Milliseconds to wait for the answer. */
  timeout: number;
}

/** The exchange ran out of time; the caller tries again or another server. */
export class ExchangeTimeout extends Error {
  /** Creates the error naming the server. */
  constructor(server: HostPort) {
    super(`DNS server ${server.host}:${server.port} did not answer in time`);
    this.name = "ExchangeTimeout";
  }
}

const DNSSEC_OK = 0x8000;
const EDNS_SIZE = 1232; // RFC 9715 / DNS flag day 2020: avoids IP fragmentation

/** Builds a recursive query asking for the AD bit (RFC 6840 5.7) with EDNS0. */
export function encodeQuery(q: Question, id: number): Uint8Array {
  return packet.encode({
    type: "query",
    id,
    flags: packet.RECURSION_DESIRED | packet.AUTHENTIC_DATA,
    questions: [{ name: q.name, type: q.type, class: "IN" }],
    // DO (RFC 3225): a validating resolver then reports AD on every answer, denials included.
    additionals: [{ type: "OPT", name: ".", udpPayloadSize: EDNS_SIZE, flags: DNSSEC_OK }],
  });
}

function matches(res: Packet, q: Question, id: number): boolean {
  const rq = res.questions?.[0];
  return res.id === id && res.type === "response" && rq !== undefined &&
    rq.name.toLowerCase() === q.name.toLowerCase().replace(/\.$/, "") && rq.type === q.type;
}

/**
 * Asks one server over UDP; when the answer is truncated (TC bit), asks again over TCP
 * (RFC 7766 5).
 */
export async function exchange(
  server: HostPort,
  q: Question,
  opts: ExchangeOptions,
): Promise<Packet> {
  const id = crypto.getRandomValues(new Uint16Array(1))[0];
  const query = encodeQuery(q, id);
  const res = await exchangeUdp(server, query, q, id, opts.timeout);
  if (!res.flag_tc) return res;
  return await exchangeTcp(server, query, q, id, opts.timeout);
}

function exchangeUdp(
  server: HostPort,
  query: Uint8Array,
  q: Question,
  id: number,
  timeout: number,
): Promise<Packet> {
  const v6 = server.host.includes(":");
  const sock = dgram.createSocket(v6 ? "udp6" : "udp4");
  return new Promise<Packet>((resolve, reject) => {
    const timer = setTimeout(() => done(new ExchangeTimeout(server)), timeout);
    const done = (err: Error | null, res?: Packet) => {
      clearTimeout(timer);
      sock.removeAllListeners();
      sock.on("error", () => {});
      try {
        sock.close();
      } catch { /* already closed */ }
      err ? reject(err) : resolve(res!);
    };
    sock.on("error", (e) => done(e));
    sock.on("message", (msg, rinfo) => {
      if (rinfo.port !== server.port) return; // not from our server: ignore (RFC 5452 9.1)
      let res: Packet;
      try {
        res = decode(msg);
      } catch {
        return;
      }
      if (matches(res, q, id)) done(null, res);
    });
    sock.send(Buffer.from(query), server.port, server.host, (e) => e && done(e));
  });
}

async function exchangeTcp(
  server: HostPort,
  query: Uint8Array,
  q: Question,
  id: number,
  timeout: number,
): Promise<Packet> {
  let conn: Deno.TcpConn | undefined;
  const timer = setTimeout(() => conn?.close(), timeout);
  const deadline = AbortSignal.timeout(timeout);
  try {
    conn = await Deno.connect({
      hostname: server.host,
      port: server.port,
      signal: deadline,
    } as Deno.ConnectOptions);
    const framed = new Uint8Array(query.length + 2);
    new DataView(framed.buffer).setUint16(0, query.length);
    framed.set(query, 2);
    await writeAll(conn, framed);
    const len = new DataView((await readExact(conn, 2)).buffer).getUint16(0);
    const res = decode(await readExact(conn, len));
    if (!matches(res, q, id)) throw new Error("DNS answer over TCP does not match the query");
    return res;
  } catch (e) {
    if (deadline.aborted) throw new ExchangeTimeout(server);
    throw e;
  } finally {
    clearTimeout(timer);
    try {
      conn?.close();
    } catch { /* closed by the timer */ }
  }
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  for (let off = 0; off < data.length;) off += await conn.write(data.subarray(off));
}

async function readExact(conn: Deno.Conn, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  for (let off = 0; off < n;) {
    const got = await conn.read(out.subarray(off));
    if (got === null) throw new Error("DNS server closed the TCP connection early");
    off += got;
  }
  return out;
}
