import { Logger } from "../log/mod.ts";
import { SmtpServer } from "../server/mod.ts";
import { openPolicyFor, queueRunnerFor } from "./runtime.ts";
import { Resolver } from "../dns/mod.ts";
import { configFrom, openOwnedSpool, out } from "./context.ts";
import { parseCommandArgs } from "./args.ts";
import { currentIdentity, dropPrivileges, resolveIdentity } from "./privileges.ts";
import { KV_FILE, LOCK_FILE } from "../spool/mod.ts";

/** Usage of `relay serve`. */
export const SERVE_HELP = `Usage: relay serve [--config FILE]

Runs the relay: SMTP listeners, the spool and the queue runner that delivers. Without --config the built-in defaults
(the same as config.example.toml) are used: 127.0.0.1:2525, spool in ./data.
Signals: SIGHUP reloads the TLS certificate; SIGTERM or SIGINT stop gracefully.`;

/** `relay serve`: runs until SIGTERM/SIGINT. Returns the exit code. */
export async function serveCommand(args: string[]): Promise<number> {
  const { values, help } = parseCommandArgs(args, { config: { type: "string", short: "c" } }, {
    min: 0,
    max: 0,
  });
  if (help) {
    out(SERVE_HELP);
    return 0;
  }
  const config = await configFrom(values.config);
  // A user that does not exist is an error before anything starts.
  const identity = config.server.user
    ? resolveIdentity(config.server.user, config.server.group)
    : null;
  // One process owns a spool: a second serve is refused here, naming the first one's pid.
  const owned = await openOwnedSpool(config);
  const spool = owned.spool;
  const log = new Logger(config.log);
  const cleaned = await spool.cleanOrphans();
  if (cleaned.length) log.warn(`removed ${cleaned.length} half-written message(s) left by a crash`);
  // Signal handlers first: a stop that arrives during start-up must still be graceful.
  const done = Promise.withResolvers<void>();
  let server: SmtpServer | null = null;
  const stop = (signal: string) => {
    log.info(`received ${signal}: stopping (waiting up to ${config.server.shutdown_timeout} ms)`);
    done.resolve();
  };
  const onTerm = () => stop("SIGTERM");
  const onInt = () => stop("SIGINT");
  const onHup = () => {
    server?.reloadTls().then(
      () => log.info("SIGHUP: TLS certificate reloaded"),
      (e) => log.error(`SIGHUP: TLS reload failed, keeping the old certificate: ${e.message}`),
    );
  };
  Deno.addSignalListener("SIGTERM", onTerm);
  Deno.addSignalListener("SIGINT", onInt);
  Deno.addSignalListener("SIGHUP", onHup);
  const file = typeof values.config === "string" ? values.config : undefined;
  let policy;
  let runner;
  try {
    // One resolver, one DNS cache: policy lookups, sender checks and MX resolution share it.
    const resolver = new Resolver({ ...config.dns });
    policy = await openPolicyFor(config, spool, file, resolver);
    runner = await queueRunnerFor(config, spool, { log, policy, file, resolver });
    const queue = runner;
    server = await SmtpServer.start({
      config,
      spool,
      log,
      policy,
      resolver,
      accepted: config.queue.deliver ? (e) => queue.notify(e.id) : undefined,
    });
    if (identity) {
      // The ports are bound: root is no longer needed.
      const dir = config.server.spool;
      const files = dir === ":memory:" ? [] : [
        dir,
        ...[KV_FILE, `${KV_FILE}-wal`, `${KV_FILE}-shm`, LOCK_FILE].map((f) => `${dir}/${f}`),
      ];
      await dropPrivileges(identity, files);
      const now = currentIdentity();
      log.info(`running as uid ${now.uid} gid ${now.gid}`, { event: "user", uid: now.uid });
    }
  } catch (e) {
    await server?.close(0);
    await policy?.close();
    owned.close();
    throw e;
  }
  if (config.queue.deliver) runner.start();
  else log.info("queue runner off ([queue] deliver = false): mail is queued, not delivered");
  log.info(`edge relay started: ${config.server.hostname}, spool ${config.server.spool}`, {
    event: "start",
    pid: Deno.pid,
  });
  await done.promise;
  Deno.removeSignalListener("SIGTERM", onTerm);
  Deno.removeSignalListener("SIGINT", onInt);
  Deno.removeSignalListener("SIGHUP", onHup);
  await server.close(config.server.shutdown_timeout);
  await runner.stop({ timeout: config.server.shutdown_timeout });
  await policy.close();
  owned.close();
  log.info("edge relay stopped", { event: "stop" });
  log.close();
  return 0;
}
