/** The haproxy helper against a tiny recording listener: real haproxy headers parse. */
import { parseProxyHeader, type ProxyInfo } from "../lib/proxy/mod.ts";
import { assert, assertEquals } from "./helpers/assert.ts";
import { type SendProxy, startHaproxy } from "./helpers/haproxy.ts";

interface Received {
  info: ProxyInfo;
  rest: string;
}

/** Accepts connections and parses the PROXY header at the start of each. */
function recorder() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const waiting: ((r: Received) => void)[] = [];
  const loop = (async () => {
    for await (const conn of listener) {
      const r = await readHeader(conn);
      conn.close();
      waiting.shift()?.(r);
    }
  })().catch(() => {});
  return {
    port: (listener.addr as Deno.NetAddr).port,
    next: () => new Promise<Received>((resolve) => waiting.push(resolve)),
    close: async () => {
      listener.close();
      await loop;
    },
  };
}

async function readHeader(conn: Deno.Conn): Promise<Received> {
  let bytes = new Uint8Array(0);
  const buf = new Uint8Array(4096);
  while (true) {
    const n = await conn.read(buf);
    if (n === null) throw new Error("connection closed before the header");
    bytes = new Uint8Array([...bytes, ...buf.subarray(0, n)]);
    const r = parseProxyHeader(bytes);
    if (r.status === "incomplete") continue;
    // Wait for the client's pipelined line too.
    while (!new TextDecoder().decode(bytes.subarray(r.length)).includes("\n")) {
      const m = await conn.read(buf);
      if (m === null) break;
      bytes = new Uint8Array([...bytes, ...buf.subarray(0, m)]);
    }
    return { info: r.info, rest: new TextDecoder().decode(bytes.subarray(r.length)) };
  }
}

async function through(
  flavour: SendProxy,
  expectVersion: 1 | 2,
  proxyV2Options?: string[],
): Promise<ProxyInfo[]> {
  const rec = recorder();
  const hap = await startHaproxy({
    backend: { hostname: "127.0.0.1", port: rec.port },
    sendProxy: flavour,
    proxyV2Options,
  });
  const infos: ProxyInfo[] = [];
  try {
    for (const [hostname, port] of [["127.0.0.1", hap.port], ["::1", hap.port6]] as const) {
      const got = rec.next();
      const client = await Deno.connect({ hostname, port });
      await client.write(new TextEncoder().encode("EHLO client.test\r\n"));
      const { info, rest } = await got;
      client.close();
      const local = client.localAddr as Deno.NetAddr;
      assertEquals(info.version, expectVersion);
      assertEquals(info.command, "PROXY");
      assertEquals(info.family, hostname === "::1" ? "TCP6" : "TCP4");
      assertEquals(info.source, { address: hostname, port: local.port });
      assertEquals(info.destination, { address: hostname, port });
      assertEquals(rest, "EHLO client.test\r\n");
      infos.push(info);
    }
  } finally {
    await hap.stop();
    await rec.close();
  }
  return infos;
}

Deno.test("haproxy send-proxy: a v1 header carries the IPv4 and IPv6 client", async () => {
  await through("send-proxy", 1);
});

Deno.test("haproxy send-proxy-v2: a v2 header carries the IPv4 and IPv6 client", async () => {
  const [v4] = await through("send-proxy-v2", 2);
  assertEquals(v4.tlvs, []);
});

Deno.test("haproxy send-proxy-v2-ssl with crc32c and unique-id: TLVs parse and verify", async () => {
  const infos = await through("send-proxy-v2-ssl", 2, ["crc32c", "unique-id"]);
  for (const info of infos) {
    assertEquals(info.crc32cVerified, true);
    assert(info.uniqueId && info.uniqueId.length > 0, "unique id present");
    assert(info.ssl, "SSL TLV present");
    assertEquals(info.ssl.client & 1, 0); // the client did not use TLS
    assertEquals(info.ssl.verified, false);
  }
});
