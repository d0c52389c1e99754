import { assert, assertEquals, assertThrows } from "./helpers/assert.ts";
import { deliveryConfigSchema } from "../lib/config/schema_delivery.ts";
import { Resolver } from "../lib/dns/mod.ts";
import { LookupRegistry } from "../lib/lookup/mod.ts";
import { matchDomain, type RouteLookups, Router, RouterConfigError } from "../lib/router/mod.ts";
import type { Recipient } from "../lib/envelope/mod.ts";

const rcpt = (address: string): Recipient => ({
  address,
  status: "pending",
  attempts: 0,
  nextAttempt: 0,
});

const resolver = new Resolver({ servers: ["127.0.0.1:9"], timeout: 100, attempts: 1 });

function build(toml: Record<string, unknown>): Router {
  const c = deliveryConfigSchema.parse(toml);
  return Router.build({ routes: c.route, transports: c.transport, resolver, helo: "relay.test" });
}

Deno.test("matchDomain: exact, *.suffix (subdomains only) and *", () => {
  assert(matchDomain("example.org", "EXAMPLE.org"));
  assert(!matchDomain("example.org", "a.example.org"));
  assert(matchDomain("*.example.org", "a.b.example.org"));
  assert(!matchDomain("*.example.org", "example.org"));
  assert(!matchDomain("*.example.org", "badexample.org"));
  assert(matchDomain("*", "anything.test"));
});

Deno.test("router: first matching route wins; MX groups split by domain, smarthost not", async () => {
  const router = build({
    route: [
      { domains: "blackhole.test", transport: "bin" },
      { domains: ["*.corp.test", "corp.test"], transport: "smart" },
      { domains: "refused.test", transport: "nope" },
      { domains: "*", transport: "smtp" },
    ],
    transport: {
      bin: { driver: "discard" },
      smart: { hosts: ["127.0.0.1:2700"] },
      nope: { driver: "fail", message: "No mail for you" },
    },
  });
  assertEquals((await router.route("x@blackhole.test"))?.name, "bin");
  assertEquals((await router.route("x@a.corp.test"))?.name, "smart");
  assertEquals((await router.route("x@else.test"))?.name, "smtp");
  const { groups, unrouted } = await router.plan([
    rcpt("a@one.test"),
    rcpt("b@two.test"),
    rcpt("c@one.test"),
    rcpt("d@corp.test"),
    rcpt("e@x.corp.test"),
  ]);
  assertEquals(unrouted, []);
  assertEquals(
    groups.map((g) => [g.transport.name, g.recipients.map((r) => r.address)]),
    [
      ["smtp", ["a@one.test", "c@one.test"]],
      ["smtp", ["b@two.test"]],
      ["smart", ["d@corp.test", "e@x.corp.test"]],
    ],
  );
});

Deno.test("router: no routes means every recipient by MX through smtp", async () => {
  const router = build({});
  assertEquals((await router.route("a@example.test"))?.name, "smtp");
});

Deno.test("router: unmatched recipients are unrouted; unknown transports are config errors", async () => {
  const router = build({ route: [{ domains: "only.test", transport: "smtp" }] });
  assertEquals((await router.plan([rcpt("a@other.test")])).unrouted.length, 1);
  assertThrows(
    () => build({ route: [{ domains: "*", transport: "missing" }] }),
    RouterConfigError,
    'transport "missing"',
  );
});

Deno.test("discard and fail transports decide without network", async () => {
  const router = build({
    route: [{ domains: "bin.test", transport: "bin" }, { domains: "*", transport: "no" }],
    transport: { bin: { driver: "discard" }, no: { driver: "fail", message: "Gone away" } },
  });
  const msg = { envelope: {} as never, body: async function* () {} };
  const [d] = await (await router.route("a@bin.test"))!.deliver(msg, [rcpt("a@bin.test")]);
  assertEquals(d.status, "delivered");
  const [f] = await (await router.route("a@x.test"))!.deliver(msg, [rcpt("a@x.test")]);
  assertEquals([f.status, f.diagnostic], ["failed", "Gone away"]);
  await router.close();
});

Deno.test("delivery config schema: defaults, durations and bad retry rules", () => {
  const c = deliveryConfigSchema.parse({
    dns: { servers: ["127.0.0.1:5353"], timeout: "2s" },
    retry: [{ domains: "*", rules: ["F,2h,15m", "G,16h,1h,1.5", "F,4d,6h"] }],
  });
  assertEquals(c.dns.timeout, 2000);
  assertEquals(c.queue.interval, 60_000);
  assertEquals(c.route, []);
  assertEquals(c.retry[0].domains, ["*"]);
  assert(!deliveryConfigSchema.safeParse({ retry: [{ domains: "*", rules: ["X,1h"] }] }).success);
  assert(
    !deliveryConfigSchema.safeParse({ retry: [{ domains: "*", rules: ["F,zz,1m"] }] }).success,
  );
  assert(!deliveryConfigSchema.safeParse({ transport: { s: { tls: "maybe" } } }).success);
  assert(!deliveryConfigSchema.safeParse({ transport: { s: { hosts: ["a:b:c"] } } }).success);
});

Deno.test("router: a route by lookup table matches its keys; a failing lookup defers", async () => {
  const table = new Map([["partner.test", "1"]]);
  let broken = false;
  const lookups: RouteLookups = {
    get: (name) =>
      name === "partners"
        ? {
          get: (key: string) =>
            broken
              ? Promise.reject(new Error("redis down"))
              : Promise.resolve(table.get(key) ?? null),
        }
        : undefined,
  };
  const c = deliveryConfigSchema.parse({
    route: [{ lookup: "partners", transport: "smart" }, { domains: "*", transport: "smtp" }],
    transport: { smart: { hosts: ["127.0.0.1:2700"] } },
  });
  const router = Router.build({
    routes: c.route,
    transports: c.transport,
    resolver,
    helo: "relay.test",
    lookups,
  });
  assertEquals((await router.route("a@partner.test"))?.name, "smart");
  assertEquals((await router.route("a@other.test"))?.name, "smtp");
  broken = true;
  const plan = await router.plan([rcpt("a@partner.test")]);
  assertEquals(plan.unresolved.map((u) => u.error), ["Routing lookup failed: redis down"]);
  assertThrows(
    () => Router.build({ routes: c.route, transports: c.transport, resolver, helo: "x" }),
    RouterConfigError,
    "lookup table",
  );
  assert(!deliveryConfigSchema.safeParse({ route: [{ transport: "smtp" }] }).success);
  const registry: RouteLookups = new LookupRegistry(); // lib/lookup's registry fits
  assertEquals(registry.get("none"), undefined);
});
