import { assert, assertEquals, assertMatch, assertThrows } from "./helpers/assert.ts";
import { isSrs, SrsError, srsForward, srsReverse } from "../lib/senderauth/mod.ts";

const DAY = 86_400_000;
const NOW = new Date("2026-11-23T12:00:00Z");
const at = (days: number) => ({ now: new Date(NOW.getTime() + days * DAY) });

function failure(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert(e instanceof SrsError, String(e));
    return e.failure;
  }
  throw new Error("no SrsError");
}

Deno.test("srsForward() writes SRS0 and srsReverse() gives the sender back", () => {
  const srs = srsForward("alice@example.org", "fwd.test", ["k1"], at(0));
  assertMatch(srs, /^SRS0=[A-Za-z0-9+/]{4}=[A-Z2-7]{2}=example\.org=alice@fwd\.test$/);
  assert(isSrs(srs));
  assertEquals(srsReverse(srs, ["k1"], 21, at(3)), "alice@example.org");
  assertEquals(srsReverse(srs.toLowerCase(), ["k1"], 21, at(3)), "alice@example.org");
  const odd = srsForward("a=b+c@example.org", "fwd.test", ["k1"], at(0));
  assertEquals(srsReverse(odd, ["k1"], 21, at(0)), "a=b+c@example.org");
});

Deno.test("srsForward() leaves the null sender and our own addresses alone", () => {
  assertEquals(srsForward("", "fwd.test", ["k1"]), "");
  assertEquals(srsForward("bob@FWD.test", "fwd.test", ["k1"]), "bob@FWD.test");
  assertEquals(failure(() => srsForward("nodomain", "fwd.test", ["k1"])), "syntax");
  assertEquals(failure(() => srsForward("a@b.test", "fwd.test", [])), "syntax");
});

Deno.test("a second forwarder writes SRS1 and bounces go back through the first", () => {
  const first = srsForward("alice@example.org", "one.test", ["k1"], at(0));
  const second = srsForward(first, "two.test", ["k2"], at(1));
  assertMatch(second, /^SRS1=[^=]{4}=one\.test==[^=]{4}=[A-Z2-7]{2}=example\.org=alice@two\.test$/);
  const third = srsForward(second, "three.test", ["k3"], at(1));
  assertMatch(third, /^SRS1=[^=]{4}=one\.test==.*@three\.test$/);
  // Each forwarder reverses only its own hash.
  assertEquals(srsReverse(third, ["k3"], 21, at(2)), first);
  assertEquals(srsReverse(second, ["k2"], 21, at(2)), first);
  assertEquals(srsReverse(first, ["k1"], 21, at(2)), "alice@example.org");
  assertEquals(failure(() => srsReverse(second, ["k1"], 21, at(2))), "forged");
});

Deno.test("srsReverse() accepts every configured secret, so secrets can rotate", () => {
  const old = srsForward("alice@example.org", "fwd.test", ["old"], at(0));
  assertEquals(srsReverse(old, ["new", "old"], 21, at(1)), "alice@example.org");
  const fresh = srsForward("alice@example.org", "fwd.test", ["new", "old"], at(0));
  assertEquals(srsReverse(fresh, ["new"], 21, at(1)), "alice@example.org");
  assertEquals(failure(() => srsReverse(old, ["new"], 21, at(1))), "forged");
});

Deno.test("srsReverse() refuses forged, expired and non-SRS addresses", () => {
  const srs = srsForward("alice@example.org", "fwd.test", ["k1"], at(0));
  const forged = srs.replace("alice", "mallory");
  assertEquals(failure(() => srsReverse(forged, ["k1"], 21, at(0))), "forged");
  assertEquals(failure(() => srsReverse(srs, ["k1"], 21, at(22))), "expired");
  assertEquals(srsReverse(srs, ["k1"], 21, at(21)), "alice@example.org");
  assertEquals(failure(() => srsReverse(srs, ["k1"], 21, at(-2))), "expired"); // from the future
  assertEquals(failure(() => srsReverse("alice@fwd.test", ["k1"])), "syntax");
  assertThrows(() => srsReverse("SRS0=bad@fwd.test", ["k1"]), SrsError);
  // The stamp wraps every 1024 days and still works across the wrap.
  const wrap = new Date(Math.ceil(NOW.getTime() / (1024 * DAY)) * 1024 * DAY - DAY);
  const late = srsForward("alice@example.org", "fwd.test", ["k1"], { now: wrap });
  const after = { now: new Date(wrap.getTime() + 2 * DAY) };
  assertEquals(srsReverse(late, ["k1"], 21, after), "alice@example.org");
});
