import { assertEquals, assertThrows } from "./helpers/assert.ts";
import {
  DEFAULT_RETRY_RULES,
  KeyedSemaphore,
  parseRetryRule,
  RetryRuleError,
  RetrySchedule,
  retryTimes,
} from "../lib/queue/mod.ts";

const M = 60_000;
const H = 60 * M;

Deno.test("parseRetryRule reads fixed and geometric rules", () => {
  assertEquals(parseRetryRule("F,2h,15m"), {
    kind: "F",
    cutoff: 2 * H,
    interval: 15 * M,
    factor: 1,
  });
  assertEquals(parseRetryRule(" g, 16h, 1h, 1.5 "), {
    kind: "G",
    cutoff: 16 * H,
    interval: H,
    factor: 1.5,
  });
  assertThrows(() => parseRetryRule("F,2h"), RetryRuleError);
  assertThrows(() => parseRetryRule("F,2x,15m"), RetryRuleError);
  assertThrows(() => parseRetryRule("G,16h,1h,0.5"), RetryRuleError);
});

Deno.test("Exim's default rules: every 15 min for 2 h, then geometric, then every 6 h to 4 days", () => {
  const times = retryTimes(DEFAULT_RETRY_RULES.map(parseRetryRule));
  assertEquals(times.slice(0, 8).map((t) => t / M), [15, 30, 45, 60, 75, 90, 105, 120]);
  assertEquals(times.slice(8, 11).map((t) => t / M), [180, 270, 405]);
  assertEquals(times[times.length - 1] >= 96 * H, true);
});

Deno.test("RetrySchedule: next attempt by domain rules, null after the last cutoff", () => {
  const s = new RetrySchedule([
    { domains: ["slow.test"], rules: ["F,1h,30m"] },
    { domains: ["*.fast.test"], rules: ["F,10m,1m"] },
  ]);
  const t0 = 1_000_000;
  assertEquals(s.next("slow.test", t0, t0 + 1000), t0 + 30 * M);
  assertEquals(s.next("slow.test", t0, t0 + 31 * M), t0 + 60 * M);
  assertEquals(s.next("slow.test", t0, t0 + 60 * M), null);
  assertEquals(s.next("a.fast.test", t0, t0 + 90_000), t0 + 2 * M);
  assertEquals(s.next("other.test", t0, t0), t0 + 15 * M); // Exim's default
  assertEquals(s.next("other.test", t0, t0 + 4 * 24 * H), null);
  assertEquals(s.giveUpAt("slow.test", t0), t0 + H);
});

Deno.test("KeyedSemaphore limits work per key and lets other keys through", async () => {
  const sem = new KeyedSemaphore(2);
  const a1 = await sem.acquire("a");
  const a2 = await sem.acquire("a");
  let third = false;
  const a3 = sem.acquire("a").then((r) => {
    third = true;
    return r;
  });
  const b1 = await sem.acquire("b"); // another domain is not held up
  await new Promise((r) => setTimeout(r, 10));
  assertEquals(third, false);
  a1();
  (await a3)();
  assertEquals(third, true);
  a2();
  b1();
});
