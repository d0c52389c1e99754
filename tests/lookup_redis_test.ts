import {
  LookupDeferError,
  LookupError,
  parseRedisServer,
  RedisLookup,
  RespErrorReply,
} from "../lib/lookup/mod.ts";
import { assertEquals, assertRejects, assertThrows } from "./helpers/assert.ts";
import { startRedis } from "./helpers/redis.ts";
import { waitFor } from "./helpers/wait.ts";

Deno.test("redis server specs parse as host:port/db/password", () => {
  assertEquals(parseRedisServer("127.0.0.1"), {
    hostname: "127.0.0.1",
    port: 6379,
    db: 0,
    password: "",
  });
  assertEquals(parseRedisServer("[::1]:6380/3/pa/ss"), {
    hostname: "::1",
    port: 6380,
    db: 3,
    password: "pa/ss",
  });
  assertThrows(() => parseRedisServer("host:6379/x"), LookupError, "not a number");
});

Deno.test("redis lookup runs GET, HGET, SISMEMBER and SMEMBERS with the key as an argument", async () => {
  const redis = await startRedis();
  const server = [redis.server()];
  const writer = new RedisLookup({ name: "w", servers: server });
  const get = new RedisLookup({ name: "g", servers: server, keyPrefix: "domain:" });
  const hget = new RedisLookup({ name: "h", servers: server, command: ["HGET", "routes"] });
  const member = new RedisLookup({ name: "s", servers: server, command: ["SISMEMBER", "blocked"] });
  const members = new RedisLookup({ name: "m", servers: server, command: ["SMEMBERS"] });
  const placed = new RedisLookup({ name: "p", servers: server, command: ["HGET", "{key}", "f"] });
  try {
    await writer.call(["SET", "domain:example.org", "relay"]);
    await writer.call(["HSET", "routes", "example.org", "smtp:[192.0.2.1]"]);
    await writer.call(["SADD", "blocked", "spam@example.net"]);
    await writer.call(["SADD", "aliases", "b", "a"]);
    await writer.call(["HSET", "h1", "f", "placed"]);
    assertEquals(await get.get("example.org"), "relay");
    assertEquals(await get.get("example.net"), null);
    assertEquals(await hget.get("example.org"), "smtp:[192.0.2.1]");
    assertEquals(await member.get("spam@example.net"), "1");
    assertEquals(await member.get("ham@example.net"), null);
    assertEquals((await members.members("aliases"))?.sort(), ["a", "b"]);
    assertEquals(await members.members("nothing"), null);
    assertEquals(await placed.get("h1"), "placed");
    assertEquals(await writer.call(["INCR", "counter"]), 1);
    assertEquals(await writer.call(["INCR", "counter"]), 2);
  } finally {
    for (const l of [writer, get, hget, member, members, placed]) await l.close();
    await redis.stop();
  }
});

Deno.test("redis lookup never lets a key change the command", async () => {
  const redis = await startRedis();
  const t = new RedisLookup({ name: "t", servers: [redis.server()] });
  try {
    await redis.cli("SET", "victim", "intact");
    for (
      const key of [
        "x\r\nFLUSHALL\r\n",
        "*1\r\n$8\r\nFLUSHALL\r\n",
        "victim FLUSHALL",
        '"; FLUSHALL; "',
        "${run{id}}",
      ]
    ) {
      assertEquals(await t.get(key), null);
    }
    assertEquals(await t.get("victim"), "intact");
    assertEquals(await t.call(["SET", "a b\r\nc", "v"]), "OK");
    assertEquals(await t.get("a b\r\nc"), "v");
  } finally {
    await t.close();
    await redis.stop();
  }
});

Deno.test("redis lookup authenticates and selects the database", async () => {
  const redis = await startRedis({ password: "s3cret" });
  const good = new RedisLookup({ name: "t", servers: [redis.server(2, "s3cret")] });
  const bad = new RedisLookup({ name: "t", servers: [redis.server(0, "wrong")], timeout: 500 });
  try {
    await good.call(["SET", "k", "in db 2"]);
    assertEquals(await good.get("k"), "in db 2");
    assertEquals(await good.call(["SELECT", "0"]), "OK");
    await assertRejects(() => bad.get("k"), LookupDeferError, "refused AUTH");
  } finally {
    await good.close();
    await bad.close();
    await redis.stop();
  }
});

Deno.test("redis lookup defers while the server is down and recovers when it returns", async () => {
  const redis = await startRedis();
  const t = new RedisLookup({ name: "t", servers: [redis.server()], retryDelay: 0 });
  try {
    await redis.cli("SET", "k", "v");
    assertEquals(await t.get("k"), "v");
    await redis.stop();
    await assertRejects(() => t.get("k"), LookupDeferError, "no Redis server answered");
    await redis.start();
    await redis.cli("SET", "k", "again");
    assertEquals(await t.get("k"), "again");
  } finally {
    await t.close();
    await redis.stop();
  }
});

Deno.test("redis lookup defers on a slow server (DEBUG SLEEP) instead of failing open", async () => {
  const redis = await startRedis();
  const t = new RedisLookup({ name: "t", servers: [redis.server()], timeout: 200 });
  const admin = new RedisLookup({ name: "a", servers: [redis.server()], timeout: 5000 });
  try {
    await admin.call(["SET", "k", "v"]);
    assertEquals(await t.get("k"), "v");
    const sleeping = admin.call(["DEBUG", "SLEEP", "1"]);
    await new Promise((r) => setTimeout(r, 50));
    const started = Date.now();
    await assertRejects(() => t.get("k"), LookupDeferError, "timed out after 200 ms");
    assertEquals(Date.now() - started < 900, true);
    assertEquals(await sleeping, "OK");
    assertEquals(await t.get("k"), "v");
  } finally {
    await t.close();
    await admin.close();
    await redis.stop();
  }
});

Deno.test("redis lookup fails over to the second server and back", async () => {
  const first = await startRedis();
  const second = await startRedis();
  const t = new RedisLookup({
    name: "t",
    servers: [first.server(), second.server()],
    retryDelay: 100,
  });
  try {
    await first.cli("SET", "who", "first");
    await second.cli("SET", "who", "second");
    assertEquals(await t.get("who"), "first");
    await first.stop();
    assertEquals(await t.get("who"), "second");
    assertEquals(await t.get("who"), "second");
    await first.start();
    await first.cli("SET", "who", "first");
    // Back to the first server once its retry delay (100 ms) has passed.
    await waitFor(async () => (await t.get("who")) === "first", { what: "the first server" });
    await first.stop();
    await second.stop();
    await assertRejects(() => t.get("who"), LookupDeferError);
  } finally {
    await t.close();
    await first.stop();
    await second.stop();
  }
});

Deno.test("redis error replies defer lookups and come back from call()", async () => {
  const redis = await startRedis();
  const t = new RedisLookup({ name: "t", servers: [redis.server()], command: ["HGET", "str"] });
  try {
    await t.call(["SET", "str", "plain"]);
    await assertRejects(() => t.get("x"), LookupDeferError, "WRONGTYPE");
    const r = await t.call(["NOSUCHCOMMAND"]);
    assertEquals(r instanceof RespErrorReply, true);
  } finally {
    await t.close();
    await redis.stop();
  }
});

Deno.test("redis replies split over many reads and pipelined commands arrive intact", async () => {
  const redis = await startRedis();
  const t = new RedisLookup({ name: "t", servers: [redis.server()], timeout: 5000 });
  try {
    const big = "x\r\n$5\r\n".repeat(40_000); // 280 KB with RESP-looking content
    await t.call(["SET", "big", big]);
    const values = await Promise.all([t.get("big"), t.call(["PING"]), t.get("big"), t.get("none")]);
    assertEquals(values[0] === big && values[2] === big, true);
    assertEquals([values[1], values[3]], ["PONG", null]);
    await t.call(["RPUSH", "l", ...Array.from({ length: 500 }, (_, i) => `item${i}`)]);
    const range = new RedisLookup({
      name: "r",
      servers: [redis.server()],
      command: ["LRANGE", "{key}", "0", "-1"],
    });
    assertEquals((await range.members("l"))?.length, 500);
    await range.close();
  } finally {
    await t.close();
    await redis.stop();
  }
});
