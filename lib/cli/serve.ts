import { Relay } from "../relay/mod.ts";
import { configFrom, out } from "./context.ts";
import { parseCommandArgs } from "./args.ts";
import { keepInspectorOff } from "./inspector_signal.ts";
import { currentIdentity, dropPrivileges, resolveIdentity } from "./privileges.ts";
import { KV_FILE, LOCK_FILE } from "../spool/mod.ts";

/** Usage of `relay serve`. */
export const SERVE_HELP = `Usage: relay serve [--config FILE]

Runs the relay: SMTP listeners, the spool and the queue runner that delivers. Without --config the built-in defaults
(the same as config.example.toml) are used: 127.0.0.1:2525, spool in ./data.
Signals: SIGHUP reloads the TLS certificate; SIGTERM or SIGINT stop gracefully; SIGUSR1 is ignored.`;

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
  const file = typeof values.config === "string" ? values.config : undefined;
  const config = await configFrom(file);
  // A user that does not exist is an error before anything starts.
  const identity = config.server.user
    ? resolveIdentity(config.server.user, config.server.group)
    : null;
  // Signal handlers first: a stop that arrives during start-up must still be graceful.
  const done = Promise.withResolvers<string>();
  let relay: Relay | null = null;
  let stopInspectorGuard = () => {};
  const onTerm = () => done.resolve("SIGTERM");
  const onInt = () => done.resolve("SIGINT");
  const onHup = () => {
    relay?.reload().then(
      () => relay?.log.info("SIGHUP: TLS certificate reloaded"),
      (e) =>
        relay?.log.error(`SIGHUP: TLS reload failed, keeping the old certificate: ${e.message}`),
    );
  };
  Deno.addSignalListener("SIGTERM", onTerm);
  Deno.addSignalListener("SIGINT", onInt);
  Deno.addSignalListener("SIGHUP", onHup);
  try {
    relay = await Relay.open({ config, configFile: file });
    // Deno would open a V8 inspector on SIGUSR1 (see inspector_signal.ts).
    stopInspectorGuard = keepInspectorOff(relay.log);
    const log = relay.log;
    try {
      await relay.start({
        // The ports are bound and delivery has not started: root is no longer needed.
        afterBind: identity
          ? async () => {
            const dir = config.server.spool;
            const files = dir === ":memory:" ? [] : [
              dir,
              ...[KV_FILE, `${KV_FILE}-wal`, `${KV_FILE}-shm`, LOCK_FILE].map((f) => `${dir}/${f}`),
            ];
            await dropPrivileges(identity, files);
            const now = currentIdentity();
            log.info(`running as uid ${now.uid} gid ${now.gid}`, { event: "user", uid: now.uid });
          }
          : undefined,
      });
    } catch (e) {
      await relay.stop({ drain: false });
      throw e;
    }
    relay.log.info(`edge relay started: ${config.server.hostname}, spool ${config.server.spool}`, {
      event: "start",
      pid: Deno.pid,
    });
    const signal = await done.promise;
    relay.log.info(
      `received ${signal}: stopping (waiting up to ${config.server.shutdown_timeout} ms)`,
    );
    await relay.stop({ drain: true });
  } finally {
    stopInspectorGuard();
    Deno.removeSignalListener("SIGTERM", onTerm);
    Deno.removeSignalListener("SIGINT", onInt);
    Deno.removeSignalListener("SIGHUP", onHup);
  }
  return 0;
}
