import { FileLookup, type Lookup, LookupDeferError, LookupRegistry } from "../lib/lookup/mod.ts";
import {
  makeContext,
  PolicyConfigError,
  PolicyEngine,
  type PolicyEngineOptions,
  splitAddress,
} from "../lib/policy/mod.ts";
import { assert, assertEquals, assertThrows } from "./helpers/assert.ts";

function memoryTable(name: string, data: Record<string, string>): Lookup & { calls: string[] } {
  return {
    name,
    driver: "memory",
    calls: [],
    get(key) {
      this.calls.push(key);
      if (key === "boom") return Promise.reject(new LookupDeferError("table is down"));
      return Promise.resolve(data[key] ?? null);
    },
    close() {},
  };
}

function engine(acl: PolicyEngineOptions["acl"], tables: Lookup[] = []) {
  const lookups = new LookupRegistry();
  for (const t of tables) lookups.add(t, { cache_ttl: 0 });
  return PolicyEngine.create({ acl, lookups });
}

const rcptCtx = (rcpt: string, extra: Parameters<typeof makeContext>[0] = {}) =>
  makeContext({ client: { ip: "192.0.2.10" }, rcpt: splitAddress(rcpt), ...extra });

Deno.test("policy: the first rule whose verb triggers decides; warn goes on", async () => {
  const e = engine({
    mail: [
      { warn: 'sender.domain == "example.net"', add_header: ["X-Warn: yes"], log_message: "w1" },
      { deny: 'sender.local == "spammer"', message: "550 5.7.1 Go away" },
      { accept: 'sender.domain == "example.net"' },
      { deny: "true" },
    ],
  });
  const ok = await e.evaluateStage("mail", makeContext({ sender: splitAddress("a@example.net") }));
  assertEquals([ok.verb, ok.code, ok.enhanced, ok.message], ["accept", 250, "2.1.0", "Sender OK"]);
  assertEquals([ok.ruleIndex, ok.headers, ok.warnings], [2, ["X-Warn: yes"], ["w1"]]);
  assertEquals(ok.trace.map((t) => t.result), [true, false, true]);
  const no = await e.evaluateStage(
    "mail",
    makeContext({ sender: splitAddress("spammer@example.net") }),
  );
  assertEquals([no.verb, no.code, no.enhanced, no.message, no.ruleIndex], [
    "deny",
    550,
    "5.7.1",
    "Go away",
    1,
  ]);
  assertEquals(no.headers, []);
  const other = await e.evaluateStage("mail", makeContext({ sender: splitAddress("a@b.org") }));
  assertEquals([other.verb, other.code, other.ruleIndex], ["deny", 550, 3]);
});

Deno.test("policy: a stage without rules, or whose rules do not decide, accepts", async () => {
  const e = engine({ helo: [{ deny: 'client.helo == "localhost"' }] });
  const d = await e.evaluateStage("connect", makeContext());
  assertEquals([d.verb, d.code, d.ruleIndex, d.trace], ["accept", 250, -1, []]);
  const h = await e.evaluateStage("helo", makeContext({ client: { helo: "mx.example.org" } }));
  assertEquals([h.verb, h.ruleIndex], ["accept", -1]);
  const bad = await e.evaluateStage("helo", makeContext({ client: { helo: "localhost" } }));
  assertEquals([bad.verb, bad.code, bad.enhanced], ["deny", 550, "5.7.1"]);
});

Deno.test("policy: verbs have their default replies per stage", async () => {
  const e = engine({
    connect: [{ drop: 'client.ip == "192.0.2.66"' }, { deny: 'client.ip == "192.0.2.67"' }],
    rcpt: [
      { defer: 'rcpt.local == "later"' },
      { discard: 'rcpt.local == "void"' },
      { accept: "true" },
    ],
    data: [{ defer: "message.size > 1000" }, { deny: 'message.headers["subject"][0] == "x"' }],
  });
  const c1 = await e.evaluateStage("connect", makeContext({ client: { ip: "192.0.2.66" } }));
  assertEquals([c1.verb, c1.code, c1.enhanced], ["drop", 554, "5.7.1"]);
  const c2 = await e.evaluateStage("connect", makeContext({ client: { ip: "192.0.2.67" } }));
  assertEquals([c2.verb, c2.code], ["deny", 554]);
  const r1 = await e.evaluateStage("rcpt", rcptCtx("later@example.org"));
  assertEquals([r1.verb, r1.code, r1.enhanced], ["defer", 450, "4.7.1"]);
  const r2 = await e.evaluateStage("rcpt", rcptCtx("void@example.org"));
  assertEquals([r2.verb, r2.code, r2.enhanced], ["discard", 250, "2.1.5"]);
  const d1 = await e.evaluateStage("data", makeContext({ message: { size: 5000 } }));
  assertEquals([d1.verb, d1.code], ["defer", 451]);
  const d2 = await e.evaluateStage(
    "data",
    makeContext({ message: { size: 10, headers: { subject: ["x"] } } }),
  );
  assertEquals([d2.verb, d2.code], ["deny", 550]);
});

Deno.test("policy: set stores variables for later rules and stages; messages interpolate", async () => {
  const e = engine({
    mail: [{
      warn: "true",
      set: { m_score: "sender.domain.size() * 2", c_seen: "true", m_dom: "sender.domain" },
    }],
    rcpt: [
      { deny: "vars.m_score > 10", message: "5.7.1 Score {vars.m_score} for {vars.m_dom}" },
      { accept: "true", add_header: ["X-Score: {vars.m_score}"] },
    ],
  });
  const m = await e.evaluateStage("mail", makeContext({ sender: splitAddress("a@example.net") }));
  assertEquals(m.vars, { m_score: 22, c_seen: true, m_dom: "example.net" });
  const r = await e.evaluateStage("rcpt", rcptCtx("b@example.org", { vars: m.vars }));
  assertEquals([r.verb, r.message], ["deny", "Score 22 for example.net"]);
  const low = await e.evaluateStage("rcpt", rcptCtx("b@example.org", { vars: { m_score: 1 } }));
  assertEquals([low.verb, low.headers], ["accept", ["X-Score: 1"]]);
});

Deno.test("policy: lookups are resolved between passes and shared by the stage's rules", async () => {
  const domains = memoryTable("relay_domains", {
    "example.org": "yes",
    "alias.test": "example.org",
  });
  const e = engine({
    rcpt: [
      { deny: 'lookup("relay_domains", rcpt.domain) == null', message: "5.1.2 Unknown domain" },
      { accept: 'in_list("relay_domains", rcpt.domain)' },
    ],
  }, [domains]);
  const ok = await e.evaluateStage("rcpt", rcptCtx("a@example.org"));
  assertEquals([ok.verb, ok.ruleIndex], ["accept", 1]);
  assertEquals(domains.calls, ["example.org"]);
  assertEquals(
    ok.trace[0].why,
    'rcpt.domain = "example.org", lookup("relay_domains", "example.org") = "yes"',
  );
  const no = await e.evaluateStage("rcpt", rcptCtx("a@unknown.test"));
  assertEquals([no.verb, no.code, no.enhanced, no.message], [
    "deny",
    550,
    "5.1.2",
    "Unknown domain",
  ]);
  const nested = engine({
    rcpt: [{ accept: 'lookup("relay_domains", lookup("relay_domains", rcpt.domain)) == "yes"' }],
  }, [domains]);
  const n = await nested.evaluateStage("rcpt", rcptCtx("a@alias.test"));
  assertEquals([n.verb, n.ruleIndex], ["accept", 0]);
});

Deno.test("policy: a failed lookup defers (4xx) and never fails open", async () => {
  const t = memoryTable("t", {});
  const e = engine({
    rcpt: [
      { deny: 'in_list("t", rcpt.local)' },
      { accept: "true" },
    ],
  }, [t]);
  const d = await e.evaluateStage("rcpt", rcptCtx("boom@example.org"));
  assertEquals([d.verb, d.code, d.enhanced, d.ruleIndex], ["defer", 451, "4.3.0", 0]);
  assert(d.logMessage.includes("table is down"), d.logMessage);
  assertEquals(d.trace[0].result, "error");
  // When the answer does not matter (CEL's commutative ||), the rule still decides.
  const e2 = engine({ rcpt: [{ accept: 'in_list("t", rcpt.local) || true' }] }, [t]);
  assertEquals((await e2.evaluateStage("rcpt", rcptCtx("boom@example.org"))).verb, "accept");
});

Deno.test("policy: runtime errors and non-boolean results defer with the rule named", async () => {
  const e = engine({
    rcpt: [{ deny: 'message.headers["x-missing"][0] == "y"' }, { accept: "true" }],
    mail: [{ warn: "false", set: { x: '"text"' } }, { accept: "vars.x" }],
  });
  const d = await e.evaluateStage("rcpt", rcptCtx("a@example.org"));
  assertEquals([d.verb, d.code], ["defer", 451]);
  assertEquals(d.logMessage.startsWith("acl.rcpt[0] deny condition failed"), true);
  for (const vars of [{}, { x: "text" }]) {
    const m = await e.evaluateStage("mail", makeContext({ vars }));
    assertEquals(m.verb, "defer");
    assert(m.logMessage.includes("not true or false"), m.logMessage);
  }
});

Deno.test("policy: compile errors name the stage, rule and key", () => {
  const cases: [PolicyEngineOptions["acl"], string][] = [
    [{ rcpt: [{ deny: "rcpt.domain ==" }] }, "acl.rcpt[0].deny: syntax error"],
    [
      { rcpt: [{ accept: "true" }, { deny: "nosuch.field" }] },
      "acl.rcpt[1].deny: unknown name nosuch",
    ],
    [{ mail: [{ deny: "frobnicate(1)" }] }, "acl.mail[0].deny: unknown function frobnicate()"],
    [
      { rcpt: [{ deny: 'lookup("missing", rcpt.domain) != null' }] },
      "no lookup table named missing",
    ],
    [{ rcpt: [{ deny: 'lookup("t", rcpt.domain)' }] }, "gives a value, not true or false"],
    [{ rcpt: [{ deny: '"yes"' }] }, "must give true or false"],
    [{ rcpt: [{ deny: "lookup(rcpt.domain)" }] }, "lookup() takes 2 arguments"],
    [{ rcpt: [{ deny: 'ratelimit(client.ip, "lots")' }] }, '"lots" is not a rate'],
    [{ rcpt: [{ deny: 'in_cidr(client.ip, ["10.0.0.0/33"])' }] }, "10.0.0.0/33"],
    [{ rcpt: [{ deny: "true", message: "450 4.7.1 Later" }] }, "acl.rcpt[0].message: code 450"],
    [{ rcpt: [{ deny: "true", message: "Hi {secret.x}" }] }, "unknown placeholder {secret.x}"],
    [{ rcpt: [{ deny: "true", set: { n: "1 +" } }] }, "acl.rcpt[0].set.n: syntax error"],
    [{ rcpt: [{ deny: "true", accept: "true" }] }, "exactly one"],
    [{ connect: [{ deny: "[1].all(x, y)" }] }, "unknown name y"],
    [
      { mail: [{ deny: 'vars.m_scroe == "1"' }, { warn: "true", set: { m_score: "1" } }] },
      "unknown variable vars.m_scroe",
    ],
    [{ mail: [{ deny: "true", message: "{vars.nope}" }] }, "unknown variable vars.nope"],
  ];
  const t = memoryTable("t", {});
  for (const [acl, text] of cases) {
    assertThrows(() => engine(acl, [t]), PolicyConfigError, text);
  }
  const err = assertThrows(
    () => engine({ data: [{ accept: "true" }, { deny: "(" }] }),
    PolicyConfigError,
  );
  assertEquals([(err as PolicyConfigError).stage, (err as PolicyConfigError).index], ["data", 1]);
  // Comprehension variables, macros and string extensions are fine.
  engine({ rcpt: [{ deny: 'rcpts.exists(r, r.endsWith("@x.test")) && has(proxy.ip)' }] });
});

Deno.test("policy: untrusted input is data, never code", async () => {
  const t = memoryTable("t", { "trusted.example": "yes" });
  const e = engine({
    rcpt: [
      { accept: 'lookup("t", rcpt.domain) == "yes"' },
      { deny: "true", message: "5.7.1 No relay for <{rcpt.address}> from {client.helo}" },
    ],
    helo: [{ warn: "true", add_header: ["X-Helo: {client.helo}"] }, { accept: "true" }],
  }, [t]);
  const evil = [
    'x@a" || true || "',
    "x@trusted.example\r\n250 OK",
    "x@${run{/bin/sh -c id}}",
    'x@lookup("t", "trusted.example") == "yes"',
    "x@{client.ip}",
    "x@trusted.example\0",
    "x@TRUSTED.example\n",
  ];
  for (const address of evil) {
    const d = await e.evaluateStage(
      "rcpt",
      rcptCtx(address, { client: { ip: "192.0.2.1", helo: "evil\r\nMAIL FROM:<x>" } }),
    );
    assertEquals(d.verb, "deny", address);
    assert(!/[\r\n\0]/.test(d.message), d.message);
    assert(d.message.includes(address.replace(/[\r\n\0]/g, "?").slice(0, 200)), d.message);
    assert(!d.message.includes("192.0.2.1"), d.message); // "{client.ip}" in data stays text
  }
  assertEquals(t.calls.slice(0, 2), ['a" || true || "', "trusted.example\r\n250 ok"]);
  const h = await e.evaluateStage("helo", makeContext({ client: { helo: "x\r\nBcc: victim" } }));
  assertEquals(h.headers, ["X-Helo: x??Bcc: victim"]);
});

Deno.test("policy: file lookups with wildcards drive relay decisions", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/domains`, "example.org: local\n*.example.net: relay\n");
  const lookups = new LookupRegistry();
  lookups.add(await FileLookup.open({ name: "domains", path: `${dir}/domains` }));
  const e = PolicyEngine.create({
    lookups,
    acl: { rcpt: [{ accept: 'in_list("domains", rcpt.domain)' }] },
  });
  assertEquals((await e.evaluateStage("rcpt", rcptCtx("a@mx.example.net"))).verb, "accept");
  const d = await e.evaluateStage("rcpt", rcptCtx("a@example.com"));
  assertEquals([d.verb, d.code, d.builtin], ["deny", 554, true]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("policy: cached answers are used without waiting, in one pass", async () => {
  const t = memoryTable("relay_domains", { "example.org": "yes" });
  const lookups = new LookupRegistry();
  lookups.add(t, { cache_ttl: 60_000 });
  const e = PolicyEngine.create({
    lookups,
    acl: { rcpt: [{ accept: 'in_list("relay_domains", rcpt.domain)' }] },
  });
  const first = await e.evaluateStage("rcpt", rcptCtx("a@example.org"));
  const second = await e.evaluateStage("rcpt", rcptCtx("b@example.org"));
  assertEquals([first.verb, second.verb], ["accept", "accept"]);
  assertEquals(t.calls, ["example.org"]);
  assertEquals(
    second.trace[0].why,
    'rcpt.domain = "example.org", lookup("relay_domains", "example.org") = "yes" (cached)',
  );
  assertEquals(lookups.stats().relay_domains, { driver: "memory", hits: 2, misses: 1, errors: 0 });
});

Deno.test("policy: concurrent sessions never see each other's answers", async () => {
  const data: Record<string, string> = {};
  for (let i = 0; i < 50; i++) data[`d${i}.test`] = `v${i}`;
  const slow: Lookup = {
    name: "t",
    driver: "memory",
    get: (k) => new Promise((r) => setTimeout(() => r(data[k] ?? null), Math.random() * 5)),
    close() {},
  };
  const e = engine({
    rcpt: [{
      deny: 'lookup("t", rcpt.domain) != "v" + rcpt.local',
      message: "5.7.1 mixed up {rcpt.address}",
    }, { accept: "true" }],
  }, [slow]);
  const verdicts = await Promise.all(
    Array.from({ length: 50 }, (_, i) => e.evaluateStage("rcpt", rcptCtx(`${i}@d${i}.test`))),
  );
  assertEquals(verdicts.map((d) => d.verb), Array(50).fill("accept"));
});
