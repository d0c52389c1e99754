// @ts-types="../../lib/dns/dns_packet.d.ts"
import * as packet from "dns-packet";
import { Buffer } from "node:buffer";
import dgram from "node:dgram";

/** A record to serve, in dns-packet's shape: `{ name, type, ttl?, data }`. */
export interface ZoneRecord {
  name: string;
  type: string;
  ttl?: number;
  data: unknown;
}

/** What the server does for a name/type instead of answering normally. */
export type Fault = "servfail" | "nxdomain" | "refused" | "truncate" | "drop";

/**
 * A small authoritative DNS server for tests on a random loopback port (UDP and TCP on the
 * same port), serving the records it is given, with faults on demand.
 */
export class TestDnsServer {
  /** The port, the same for UDP and TCP. */
  readonly port: number;
  /** Questions received, as `TYPE name` with `/tcp` when over TCP. */
  readonly queries: string[] = [];
  /** Set the AD bit in every answer. */
  ad = false;
  #records: ZoneRecord[];
  #faults = new Map<string, Fault>();
  #udp: dgram.Socket;
  #tcp: Deno.TcpListener;

  private constructor(records: ZoneRecord[], udp: dgram.Socket, tcp: Deno.TcpListener) {
    this.#records = records;
    this.#udp = udp;
    this.#tcp = tcp;
    this.port = tcp.addr.port;
    udp.on("message", (msg, rinfo) => {
      const res = this.#answer(new Uint8Array(msg), false);
      if (res) udp.send(res, rinfo.port, rinfo.address);
    });
    this.#serveTcp();
  }

  /** Starts a server for the records; remember to {@linkcode TestDnsServer.close}. */
  static async start(records: ZoneRecord[] = []): Promise<TestDnsServer> {
    for (let i = 0; i < 20; i++) {
      const tcp = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const udp = dgram.createSocket("udp4");
      const ok = await new Promise<boolean>((resolve) => {
        udp.once("error", () => resolve(false));
        udp.bind(tcp.addr.port, "127.0.0.1", () => resolve(true));
      });
      if (ok) return new TestDnsServer(records, udp, tcp);
      tcp.close();
      udp.close();
    }
    throw new Error("Cannot find a free port for the test DNS server");
  }

  /** `host:port` for a resolver's `servers`. */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Adds records. */
  add(...records: ZoneRecord[]): void {
    this.#records.push(...records);
  }

  /** Answers `name`/`type` (type `*` for any) with a fault; `null` clears it. */
  fault(name: string, type: string, fault: Fault | null): void {
    const key = `${type} ${name.toLowerCase()}`;
    fault ? this.#faults.set(key, fault) : this.#faults.delete(key);
  }

  /** Stops listening. */
  close(): void {
    this.#udp.close();
    this.#tcp.close();
  }

  async #serveTcp(): Promise<void> {
    try {
      await this.#acceptLoop();
    } catch { /* listener closed */ }
  }

  async #acceptLoop(): Promise<void> {
    for await (const conn of this.#tcp) {
      (async () => {
        try {
          const head = await readExact(conn, 2);
          const q = await readExact(conn, new DataView(head.buffer).getUint16(0));
          const res = this.#answer(q, true);
          if (res) {
            const framed = new Uint8Array(res.length + 2);
            new DataView(framed.buffer).setUint16(0, res.length);
            framed.set(res, 2);
            await conn.write(framed);
          }
        } catch { /* client went away */ }
        try {
          conn.close();
        } catch { /* closed */ }
      })();
    }
  }

  #answer(bytes: Uint8Array, tcp: boolean): Uint8Array | null {
    const query = packet.decode(Buffer.from(bytes));
    const q = query.questions![0];
    const name = q.name.toLowerCase();
    this.queries.push(`${q.type} ${name}${tcp ? "/tcp" : ""}`);
    const fault = this.#faults.get(`${q.type} ${name}`) ?? this.#faults.get(`* ${name}`);
    if (fault === "drop") return null;
    let flags = packet.AUTHORITATIVE_ANSWER | (this.ad ? packet.AUTHENTIC_DATA : 0);
    let answers: packet.Answer[] = [];
    if (fault === "servfail") flags |= 2;
    else if (fault === "refused") flags |= 5;
    else if (fault === "nxdomain") flags |= 3;
    else if (fault === "truncate" && !tcp) flags |= packet.TRUNCATED_RESPONSE;
    else {
      answers = this.#lookup(name, q.type);
      if (answers.length === 0 && !this.#exists(name)) flags |= 3;
    }
    const soa = {
      name: "test",
      type: "SOA",
      ttl: 30,
      data: {
        mname: "ns.test",
        rname: "root.test",
        serial: 1,
        refresh: 60,
        retry: 60,
        expire: 60,
        minimum: 30,
      },
    } as packet.Answer;
    return new Uint8Array(packet.encode({
      type: "response",
      id: query.id,
      flags,
      questions: query.questions,
      answers,
      authorities: answers.length === 0 ? [soa] : [],
    }));
  }

  #lookup(name: string, type: string): packet.Answer[] {
    const out: packet.Answer[] = [];
    let current = name;
    for (let hop = 0; hop < 10; hop++) {
      const here = this.#records.filter((r) => r.name.toLowerCase() === current);
      const hits = here.filter((r) => r.type === type);
      if (hits.length > 0) return [...out, ...hits.map(toAnswer)];
      const cname = here.find((r) => r.type === "CNAME");
      if (!cname || type === "CNAME") return out;
      out.push(toAnswer(cname));
      current = String(cname.data).toLowerCase();
    }
    return out;
  }

  #exists(name: string): boolean {
    return this.#records.some((r) => {
      const n = r.name.toLowerCase();
      return n === name || n.endsWith("." + name);
    });
  }
}

function toAnswer(r: ZoneRecord): packet.Answer {
  return {
    name: r.name,
    type: r.type,
    ttl: r.ttl ?? 300,
    class: "IN",
    data: r.data,
  } as packet.Answer;
}

async function readExact(conn: Deno.Conn, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  for (let off = 0; off < n;) {
    const got = await conn.read(out.subarray(off));
    if (got === null) throw new Error("closed");
    off += got;
  }
  return out;
}
