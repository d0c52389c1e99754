/** proxy.* facts from the PROXY header reach ACL conditions; the real client is checked. */
import { assertEquals, assertMatch } from "./helpers/assert.ts";
import { relayTest } from "./helpers/relay.ts";
import { RawClient } from "./helpers/raw_smtp.ts";
import { tlv, v2Header } from "./helpers/proxy_header.ts";

const TOML = `
[server]
trusted_networks = ["127.0.0.0/8"]
[[listen]]
address = "127.0.0.1:0"
proxy_protocol = true
[proxy]
trusted = ["127.0.0.1"]
[log]
proxy = true
[[acl.mail]]
deny = 'proxy.session && proxy.target_port == 587 && proxy.authority != "mx.example.org"'
message = "550 5.7.1 wrong front door {proxy.authority}"
`;

async function through(port: number, authority: string, dport: number): Promise<string[]> {
  const c = await RawClient.connect(port);
  await c.send(v2Header({
    source: ["198.51.100.7", 40001],
    destination: ["203.0.113.1", dport],
    tlvs: [tlv(0x02, authority)],
  }));
  await c.replies(1);
  await c.send("EHLO c.test\r\n");
  await c.replies(1);
  await c.send("MAIL FROM:<a@example.com>\r\n");
  const mail = await c.replies(1);
  await c.send("RCPT TO:<b@elsewhere.net>\r\n");
  const rcpt = await c.replies(1);
  c.close();
  return [...mail, ...rcpt];
}

relayTest(
  "ACL conditions see proxy.target_port and TLVs; relay control checks the real client",
  TOML,
  async (r) => {
    assertEquals(await through(r.port, "other.example", 587), [
      "550 5.7.1 wrong front door other.example",
      "503 5.5.1 Need MAIL before RCPT",
    ]);
    // The proxy (127.0.0.1) is trusted for relaying, the real client 198.51.100.7 is not.
    assertEquals(await through(r.port, "mx.example.org", 587), [
      "250 2.1.0 Sender OK",
      "554 5.7.1 <b@elsewhere.net>: Relay access denied",
    ]);
    await r.waitLog(
      /H=\(c\.test\) \[198\.51\.100\.7\]:40001 F=<a@example\.com> rejected RCPT <b@elsewhere\.net>/,
    );
    assertMatch(
      r.logs.join("\n"),
      /rejected MAIL FROM:<a@example\.com>: 550 5\.7\.1 wrong front door/,
    );
  },
);

const dir = await Deno.makeTempDir({ prefix: "relay-proxy-lookup-" });
await Deno.writeTextFile(`${dir}/balancers`, "# load balancers\n127.0.0.0/8: haproxy\n");

relayTest(
  "[proxy] trusted_lookup: a host the lookup table knows may send PROXY headers",
  `[[listen]]\naddress = "127.0.0.1:0"\nproxy_protocol = true\n` +
    `[proxy]\ntrusted_lookup = "balancers"\n` +
    `[lookup.balancers]\ndriver = "file"\npath = "${dir}/balancers"\nmode = "ip"\n`,
  async (r) => {
    const c = await RawClient.connect(r.port);
    await c.send(v2Header({ source: ["198.51.100.9", 40002], destination: ["203.0.113.1", 25] }));
    await c.replies(1);
    await c.send("EHLO c.test\r\n");
    assertMatch((await c.replies(1))[0], /^250 /);
    c.close();
    await r.waitLog(/SMTP connection from H=\[198\.51\.100\.9\]:40002/);
  },
);
