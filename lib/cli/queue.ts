import type { Envelope } from "../envelope/mod.ts";
import { isMessageId } from "../envelope/mod.ts";
import type { Spool } from "../spool/mod.ts";
import { SpoolLock, SpoolLockedError } from "../spool/mod.ts";
import { formatDuration } from "../config/mod.ts";
import { parseCommandArgs, UsageError } from "./args.ts";
import { configFrom, openSpool, out } from "./context.ts";
import { buildPolicy, resolverFor } from "../relay/mod.ts";
import { Logger } from "../log/mod.ts";
import { activeRunner, type AdminOutcome, removeQueued, runQueue } from "../queue/mod.ts";

/** Usage of `relay queue`. */
export const QUEUE_HELP = `Usage: relay queue <list|show|remove|flush|run> [--config FILE] ...

  relay queue list [--json]        every message: id, age, size, sender, each recipient's
                                   state, next attempt and last error
  relay queue show ID              the envelope and the message headers
  relay queue remove ID [--bounce] delete a message; --bounce first tells the sender (DSN)
  relay queue flush [ID]           try every message (or one) now, whatever its retry time
  relay queue run --once           one delivery pass over what is due, then exit

When "relay serve" runs on the same spool, flush and remove are handed to it (so a message
is never delivered by two processes at once); otherwise this command delivers itself.`;

function age(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return s < 60
    ? `${s}s`
    : formatDuration(s < 3600 ? Math.round(s / 60) * 60_000 : Math.round(s / 3600) * 3_600_000);
}

/** One message as `queue list` prints it (Exim's `mailq` layout). */
export function formatEntry(e: Envelope, now = Date.now()): string {
  const lines = [
    `${age(now - e.received).padStart(5)} ${String(e.size).padStart(8)} ${e.id} <${e.sender}>` +
    (e.frozen ? " *** frozen ***" : ""),
  ];
  if (e.frozen) lines.push(`          frozen: ${e.frozen}`);
  for (const r of e.recipients) {
    let state: string = r.status;
    if (r.status === "deferred" || r.status === "pending") {
      if (r.nextAttempt > now) state += ` next ${new Date(r.nextAttempt).toISOString()}`;
    }
    if (r.lastError) state += ` (${r.lastError})`;
    lines.push(
      `          ${
        r.status === "delivered" ? "D" : r.status === "failed" ? "F" : " "
      } ${r.address} ${state}`,
    );
  }
  return lines.join("\n");
}

/** `relay queue ...`. */
export async function queueCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (!sub || sub === "--help" || sub === "-h") {
    out(QUEUE_HELP);
    return sub ? 0 : 2;
  }
  const { values, positionals, help } = parseCommandArgs(
    rest,
    {
      config: { type: "string", short: "c" },
      json: { type: "boolean" },
      bounce: { type: "boolean" },
      once: { type: "boolean" },
    },
    sub === "list" || sub === "run" ? { min: 0, max: 0 } : sub === "flush" ? { min: 0, max: 1 } : {
      min: 1,
      max: 1,
    },
  );
  if (help) {
    out(QUEUE_HELP);
    return 0;
  }
  const config = await configFrom(values.config);
  // Commands that change the spool take its lock, or go through the process that holds it.
  const lock = sub === "list" || sub === "show" ? null : await lockOrOwner(config.server.spool);
  let spool: Spool;
  try {
    spool = await openSpool(config);
  } catch (e) {
    if (lock instanceof SpoolLock) lock.release();
    throw e;
  }
  try {
    if (lock instanceof SpoolLockedError && !(await activeRunner(spool))) throw lock;
    const owner = lock instanceof SpoolLock;
    switch (sub) {
      case "list": {
        const all: Envelope[] = [];
        for await (const e of spool.list()) all.push(e);
        if (values.json) out(JSON.stringify(all, null, 2));
        else if (all.length === 0) out("queue is empty");
        else for (const e of all) out(formatEntry(e) + "\n");
        return 0;
      }
      case "show": {
        const id = checkId(positionals[0]);
        const e = await spool.get(id);
        if (!e) return notFound(id);
        out(JSON.stringify(e, null, 2));
        out("");
        out(headersOf(await spool.readBody(id, { unchecked: true })));
        return 0;
      }
      case "remove": {
        const id = checkId(positionals[0]);
        const log = new Logger(config.log);
        const outcome = await removeQueued(
          config,
          { spool, hostname: config.server.hostname, log },
          id,
          values.bounce === true,
          { owner },
        );
        log.close();
        return report(outcome, id);
      }
      case "flush":
      case "run": {
        if (sub === "run" && !values.once) throw new UsageError("queue run needs --once");
        const id = positionals[0] === undefined ? undefined : checkId(positionals[0]);
        const log = new Logger(config.log);
        const resolver = resolverFor(config);
        const policy = await buildPolicy(
          config,
          spool,
          resolver,
          typeof values.config === "string" ? values.config : undefined,
        );
        try {
          const outcome = await runQueue(config, {
            spool,
            hostname: config.server.hostname,
            log,
            lookups: policy.lookups,
            resolver,
          }, { ...(sub === "flush" ? (id ? { id } : { force: true }) : {}), owner });
          return report(outcome, id);
        } finally {
          await policy.close();
          log.close();
        }
      }
      default:
        throw new UsageError(`unknown queue command "${sub}" (list, show, remove, flush, run)`);
    }
  } finally {
    spool.close();
    if (lock instanceof SpoolLock) lock.release();
  }
}

/**
 * The spool's lock for this command, or, when `relay serve` (or another command) holds it, the
 * error naming that process: the command then goes through the running relay's queue runner.
 */
async function lockOrOwner(dir: string): Promise<SpoolLock | SpoolLockedError | null> {
  if (dir === ":memory:") return null;
  try {
    return await SpoolLock.acquire(dir);
  } catch (e) {
    if (e instanceof SpoolLockedError) return e;
    throw e;
  }
}

function report(outcome: AdminOutcome, id?: string): number {
  if ("handedTo" in outcome) {
    out(
      `handed to the running relay (pid ${outcome.handedTo.pid} on ${outcome.handedTo.hostname})`,
    );
    return 0;
  }
  if ("removed" in outcome) {
    if (!outcome.removed) return notFound(id!);
    out(`${id} removed`);
    return 0;
  }
  const s = outcome.summary;
  out(
    `${s.messages} message(s): ${s.delivered} delivered, ${s.deferred} deferred, ${s.failed} failed, ${s.bounces} bounce(s) queued`,
  );
  return 0;
}

function checkId(id: string): string {
  if (!isMessageId(id)) throw new UsageError(`"${id}" is not a message id`);
  return id;
}

function notFound(id: string): number {
  out(`${id}: no such message`);
  return 1;
}

function headersOf(body: Uint8Array): string {
  const text = new TextDecoder().decode(body.subarray(0, 64 * 1024));
  const end = text.indexOf("\r\n\r\n");
  return (end >= 0 ? text.slice(0, end) : text).replaceAll("\r\n", "\n");
}
