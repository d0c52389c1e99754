/**
 * A queue runner in its own process, for crash tests: `deno run --unstable-kv -A
 * tests/helpers/queue_worker.ts SPOOL_DIR SMARTHOST`. Prints `ready` once running; runs
 * until killed.
 */
import { deliveryConfigSchema } from "../../lib/config/schema_delivery.ts";
import { createQueueRunner } from "../../lib/queue/mod.ts";
import { Spool } from "../../lib/spool/mod.ts";

const [dir, smarthost] = Deno.args;
const settings = deliveryConfigSchema.parse({
  route: [{ domains: "*", transport: "smart" }],
  transport: { smart: { hosts: [smarthost], idle_timeout: "0s", data_timeout: "60s" } },
  queue: { interval: "200ms" },
});
const spool = await Spool.open(dir);
const runner = createQueueRunner(settings, { spool, hostname: "worker.test" });
runner.start();
await Deno.stdout.write(new TextEncoder().encode("ready\n"));
await new Promise(() => {});
