import type { Router } from "../router/mod.ts";
import type { Spool } from "../spool/mod.ts";
import type { RecipientResult } from "../transport/mod.ts";
import type { RetrySchedule } from "./retry_rules.ts";

/** Settings of the queue runner (`[queue]`, `[[retry]]`). */
export interface QueueRunnerOptions {
  /** The spool to deliver from. */
  spool: Spool;
  /** Routes recipients to transports. */
  router: Router;
  /** Retry rules (default: Exim's). */
  retry?: RetrySchedule;
  /** Our host name, for bounces. */
  hostname: string;
  /** Deliveries in flight at once (default 20). */
  concurrency?: number;
  /** Deliveries in flight per recipient domain (default 10). */
  maxPerDomain?: number;
  /** Scan the whole queue at least this often, ms (default 60 000). */
  interval?: number;
  /** Send a delay warning once a message is this old, ms (0 or absent: never). */
  delayWarning?: number;
  /** The main log (lib/log's Logger fits). */
  log?: QueueLog;
  /** The clock (tests). */
  now?: () => number;
  /** Close the router's transports in `stop()` (when the runner built them). */
  closeRouter?: boolean;
  /** Called for every outcome (for event hooks: webhooks, commands, metrics). */
  onEvent?: (event: DeliveryEvent) => unknown;
}

/** One delivery outcome, as given to `onEvent`. */
export type DeliveryEvent =
  | {
    kind: "delivered" | "deferred" | "failed";
    id: string;
    transport: string;
    result: RecipientResult;
    /** For deferrals: when the next attempt is due. */
    next?: number;
  }
  | { kind: "bounce" | "warning" | "success"; id: string; original: string; to: string }
  | { kind: "completed"; id: string };

/** What a pass did. */
export interface RunSummary {
  /** Messages looked at. */
  messages: number;
  /** Recipients delivered. */
  delivered: number;
  /** Recipients deferred. */
  deferred: number;
  /** Recipients failed for good. */
  failed: number;
  /** Bounces and delay warnings queued. */
  bounces: number;
}

/** The part of lib/log's Logger the queue writes to. */
export interface QueueLog {
  /** A normal event line. */
  info(text: string, fields?: Record<string, unknown>): void;
  /** Something an admin should look at. */
  warn(text: string, fields?: Record<string, unknown>): void;
  /** An alert: mail cannot go on as it should (warn is used when missing). */
  error?(text: string, fields?: Record<string, unknown>): void;
}
