/**
 * Reverse DNS of clients goes through the relay's own resolver (`[dns]` servers and cache),
 * forward-confirmed, as Postfix and Exim do. The client's address comes from a PROXY header
 * sent by swaks from loopback (a trusted proxy), since every real socket here is loopback.
 */
import { assertEquals, assertMatch } from "./helpers/assert.ts";
import { startRelay } from "./helpers/relay.ts";
import { TestDnsServer } from "./helpers/dns_server.ts";

async function swaksFrom(port: number, source: string): Promise<string> {
  const out = await new Deno.Command("swaks", {
    args: [
      "--server",
      `127.0.0.1:${port}`,
      "--proxy-version",
      "1",
      "--proxy-family",
      "TCP4",
      "--proxy-source",
      source,
      "--proxy-source-port",
      "4242",
      "--proxy-dest",
      "127.0.0.1",
      "--proxy-dest-port",
      String(port),
      "--from",
      "a@example.com",
      "--to",
      "postmaster@relay.test",
      "--timeout",
      "20",
    ],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
    signal: AbortSignal.timeout(30_000),
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assertEquals(out.code, 0, text);
  return text;
}

Deno.test("reverse DNS: a confirmed PTR name from the [dns] servers is the client's host name", async () => {
  const dns = await TestDnsServer.start([
    { name: "10.2.0.192.in-addr.arpa", type: "PTR", data: "mail.client.test" },
    { name: "mail.client.test", type: "A", data: "192.0.2.10" },
    { name: "11.2.0.192.in-addr.arpa", type: "PTR", data: "forged.client.test" },
    { name: "forged.client.test", type: "A", data: "198.51.100.1" },
  ]);
  const relay = await startRelay(`
[server]
reverse_dns = true
local_domains = ["relay.test"]
[dns]
servers = ["127.0.0.1:${dns.port}"]
[[listen]]
address = "127.0.0.1:0"
proxy_protocol = true
[proxy]
trusted = ["127.0.0.1"]
`);
  try {
    await swaksFrom(relay.port, "192.0.2.10");
    assertMatch(await relay.waitLog(/<= a@example.com.*192\.0\.2\.10/), /H=mail\.client\.test /);
    await swaksFrom(relay.port, "192.0.2.11");
    const forged = await relay.waitLog(/<= a@example.com.*192\.0\.2\.11/);
    assertEquals(/forged\.client\.test/.test(forged), false, forged);
    assertEquals(dns.queries.includes("PTR 10.2.0.192.in-addr.arpa"), true, dns.queries.join());
  } finally {
    await relay.close();
    await dns.close();
  }
});
