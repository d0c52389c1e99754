/**
 * The queue runner: delivers what the spool holds when due, per-domain concurrency, Exim
 * retry rules, bounces, crash-safe state, Exim-style `=>`/`==`/`**` log lines.
 *
 * @module
 */
export { type AdminOutcome, removeQueued, runQueue } from "./admin.ts";
export {
  activeRunner,
  LEASE_MS,
  type QueueRequest,
  requestFlush,
  requestRemove,
  type RunnerLease,
  takeRequests,
} from "./control.ts";
export { createQueueRunner, type DeliverySettings, type QueueDeps } from "./from_config.ts";
export {
  logBounce,
  logDeferred,
  logDelivered,
  logFailed,
  type QueueLog,
  silentLog,
} from "./log_lines.ts";
export {
  DEFAULT_RETRY_RULES,
  parseRetryRule,
  type RetryPolicy,
  type RetryRule,
  RetryRuleError,
  RetrySchedule,
  retryTimes,
} from "./retry_rules.ts";
export { QueueRunner, startQueueRunner } from "./runner.ts";
export { type DeliveryEvent, type QueueRunnerOptions, type RunSummary } from "./types.ts";
export { type Recorded, recordResults } from "./outcomes.ts";
export { KeyedSemaphore, Semaphore } from "./semaphore.ts";
