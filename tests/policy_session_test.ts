import { LookupRegistry } from "../lib/lookup/mod.ts";
import { PolicyEngine, PolicySession } from "../lib/policy/mod.ts";
import { assertEquals } from "./helpers/assert.ts";

const relay = { hostname: "mx.test", domains: ["example.org"], trusted_networks: ["127.0.0.0/8"] };

Deno.test("PolicySession carries HELO, AUTH and variables through a connection", async () => {
  const engine = PolicyEngine.create({
    lookups: new LookupRegistry(),
    acl: {
      helo: [{ warn: "true", set: { c_helo_len: "client.helo.size()" } }],
      mail: [{ warn: "true", set: { m_from: "sender.domain" } }],
      rcpt: [
        { deny: 'vars.m_from == "spam.test"', message: "5.7.1 No ({vars.c_helo_len})" },
        { accept: "authenticated && rcpts.size() < 2" },
      ],
      predata: [{ deny: "rcpts.size() == 0 || vars.m_from == null" }],
    },
  });
  const p = new PolicySession(engine, relay, { ip: "198.51.100.7", port: 40000 });
  p.setHelo("client.test");
  await p.check("helo");
  await p.check("mail", { sender: "a@spam.test" });
  const no = await p.check("rcpt", { rcpt: "x@elsewhere.net" });
  assertEquals([no.verb, no.message], ["deny", "No (11)"]);
  assertEquals(p.context.vars, { c_helo_len: 11, m_from: "spam.test" });
  p.endMessage();
  assertEquals(p.context.vars, { c_helo_len: 11 });
  assertEquals((await p.check("rcpt", { rcpt: "x@elsewhere.net" })).code, 554); // relay denied
  p.setAuth("alice");
  await p.check("mail", { sender: "alice@example.org" });
  assertEquals((await p.check("rcpt", { rcpt: "x@elsewhere.net" })).verb, "accept");
  p.addRecipient("x@elsewhere.net");
  assertEquals((await p.check("predata")).verb, "accept");
  p.reset();
  assertEquals([p.context.authenticated, p.context.client.helo, p.context.rcpts], [false, "", []]);
  assertEquals((await p.check("predata")).verb, "deny");
});
