import type { Config } from "../config/mod.ts";
import type { Resolver } from "../dns/mod.ts";
import { Logger } from "../log/mod.ts";
import type { Policy } from "../policy/mod.ts";
import type { DeliveryEvent, QueueRunner, RunSummary } from "../queue/mod.ts";
import { type BoundAddress, SmtpServer } from "../server/mod.ts";
import { Spool, SpoolLock, verifySpool } from "../spool/mod.ts";
import type { Envelope } from "../envelope/mod.ts";
import { EventHub, type RelayEvent, type RelayEventListener } from "./events.ts";
import { injectedEnvelope, type InjectedMessage } from "./inject.ts";
import { buildPolicy, buildRunner, daneSelfTest, resolverFor } from "./parts.ts";

/** What {@linkcode Relay.open} needs. */
export interface RelayOptions {
  /** A validated configuration (`parseConfig`, `loadConfig` or `defaultConfig`). */
  config: Config;
  /** The file the configuration came from: errors then name its lines. */
  configFile?: string;
  /** The logger; built from `[log]` when absent (and closed by `stop()`). */
  log?: Logger;
  /** An open spool; opened from `[server] spool` when absent (and closed by `stop()`). */
  spool?: Spool;
}

/** How {@linkcode Relay.stop} ends. */
export interface StopOptions {
  /** Let open sessions and deliveries finish, up to `timeout` (default true). */
  drain?: boolean;
  /** Milliseconds to wait when draining (default `[server] shutdown_timeout`). */
  timeout?: number;
}

/**
 * The running relay: one object owns the spool, resolver, lookups and ACLs, the SMTP
 * listeners and the queue runner, built once from a validated configuration. `relay serve`,
 * the CLI, the tests and programs that embed the relay all hold one.
 *
 * What crosses between the receiving side and the delivery side (notifications of new mail,
 * control requests, events) are plain messages, so delivery can move to another thread.
 *
 * @example Start, observe, stop
 * ```ts
 * const relay = await Relay.open({ config: defaultConfig() });
 * relay.onEvent((e) => console.log(e.kind));
 * await relay.start();
 * console.log(relay.addresses[0].port);
 * await relay.stop();
 * ```
 */
export class Relay {
  /** The configuration the relay runs with. */
  config: Config;
  /** The logger every part writes to. */
  readonly log: Logger;
  /** The durable store. */
  readonly spool: Spool;
  /** The one resolver (one DNS cache) shared by policy, sender checks and delivery. */
  readonly resolver: Resolver;
  readonly #events: EventHub;
  readonly #ownLog: boolean;
  readonly #ownSpool: boolean;
  readonly #file?: string;
  #policy: Policy;
  #runner: QueueRunner;
  #server: SmtpServer | null = null;
  #started = false;
  #stopped = false;
  #lock: SpoolLock | null = null;

  private constructor(
    opts: RelayOptions,
    parts: { log: Logger; spool: Spool; resolver: Resolver; policy: Policy; runner: QueueRunner },
    events: EventHub,
  ) {
    this.config = opts.config;
    this.#file = opts.configFile;
    this.log = parts.log;
    this.spool = parts.spool;
    this.resolver = parts.resolver;
    this.#policy = parts.policy;
    this.#runner = parts.runner;
    this.#events = events;
    this.#ownLog = !opts.log;
    this.#ownSpool = !opts.spool;
  }

  /**
   * Opens the spool (cleaning half-written messages a crash left), the lookup tables and
   * ACLs, and builds the router, transports and queue runner. Nothing listens yet.
   *
   * @throws {ConfigError} when a part of the configuration cannot work (naming file and key)
   */
  static async open(opts: RelayOptions): Promise<Relay> {
    const config = opts.config;
    // One process owns a spool: a second relay on it is refused, naming the first one's pid.
    const lock = opts.spool ? null : await ownSpool(config.server.spool);
    let spool: Spool;
    try {
      spool = opts.spool ?? await Spool.open(config.server.spool);
    } catch (e) {
      lock?.release();
      throw e;
    }
    const log = opts.log ?? new Logger(config.log);
    let policy: Policy | undefined;
    try {
      const cleaned = await spool.cleanOrphans();
      if (cleaned.length) {
        log.warn(`removed ${cleaned.length} half-written message(s) left by a crash`);
      }
      const resolver = resolverFor(config);
      const daneWarning = await daneSelfTest(config, resolver);
      if (daneWarning) log.warn(daneWarning);
      const events = new EventHub(log);
      policy = await buildPolicy(config, spool, resolver, opts.configFile);
      const runner = await buildRunner(config, spool, {
        log,
        policy,
        resolver,
        file: opts.configFile,
        onEvent: (e) => events.emit(e),
      });
      const relay = new Relay(opts, { log, spool, resolver, policy, runner }, events);
      relay.#lock = lock;
      return relay;
    } catch (e) {
      await policy?.close();
      if (!opts.spool) spool.close();
      lock?.release();
      throw e;
    }
  }

  /**
   * Binds every `[[listen]]` and starts the queue runner (unless `[queue] deliver = false`).
   * `afterBind` runs between the two (`relay serve` drops root there).
   */
  async start(opts: { afterBind?: () => Promise<void> } = {}): Promise<void> {
    if (this.#started) throw new Error("Relay already started");
    this.#started = true;
    const runner = this.#runner;
    const deliver = this.config.queue.deliver;
    this.#server = await SmtpServer.start({
      config: this.config,
      spool: this.spool,
      log: this.log,
      policy: this.#policy,
      resolver: this.resolver,
      accepted: (e) => {
        if (this.#events.listening) this.#events.emit(arrival(e));
        if (deliver) runner.notify(e.id);
      },
    });
    await opts.afterBind?.();
    if (deliver) runner.start();
    else this.log.info("queue runner off ([queue] deliver = false): mail is queued, not delivered");
  }

  /** The bound listeners (their real ports, also with port 0). Empty before `start()`. */
  get addresses(): BoundAddress[] {
    return this.#server?.addresses ?? [];
  }

  /** SMTP sessions in progress. */
  get sessionCount(): number {
    return this.#server?.sessionCount ?? 0;
  }

  /**
   * Calls `listener` for every event (arrival, delivered, deferred, failed, bounce ...),
   * asynchronously and after the outcome it describes was handled; a listener that throws or
   * rejects is logged and counted, never fatal. Returns a function that unsubscribes.
   */
  onEvent(listener: RelayEventListener): () => void {
    return this.#events.subscribe(listener);
  }

  /** Event listeners that threw or rejected so far. */
  get eventListenerErrors(): number {
    return this.#events.errors;
  }

  /**
   * Stores a message as the relay's own submission (like a 250 to an authenticated client:
   * resolves only after the spool commit) and hands it to the queue runner.
   *
   * @returns the queue id
   */
  async inject(message: InjectedMessage): Promise<string> {
    const { envelope, body } = injectedEnvelope(message, this.config.server.hostname);
    if (envelope.size > this.config.smtp.max_message_size) {
      throw new RangeError(
        `Message size ${envelope.size} exceeds [smtp] max_message_size ${this.config.smtp.max_message_size}`,
      );
    }
    await this.spool.store(envelope, [body]);
    this.log.info(
      `${envelope.id} <= ${envelope.sender || "<>"} P=local S=${envelope.size} id=${
        envelope.messageId?.replace(/\s/g, "")
      }`,
      { event: "arrival", id: envelope.id, protocol: "local", size: envelope.size },
    );
    if (this.#events.listening) this.#events.emit(arrival(envelope));
    if (this.config.queue.deliver && this.#started) this.#runner.notify(envelope.id);
    return envelope.id;
  }

  /** Queue operations, through this relay's runner (the CLI hands them over the same way). */
  get queue(): {
    list(): AsyncGenerator<Envelope>;
    get(id: string): Promise<Envelope | null>;
    flush(id?: string): Promise<RunSummary>;
    runOnce(): Promise<RunSummary>;
    remove(id: string, opts?: { bounce?: boolean }): Promise<boolean>;
  } {
    const spool = this.spool;
    const runner = this.#runner;
    return {
      list: () => spool.list(),
      get: (id) => spool.get(id),
      flush: (id) => runner.flush(id),
      runOnce: () => runner.runOnce(),
      remove: (id, opts) => runner.remove(id, opts),
    };
  }

  /**
   * Applies a new configuration. For now the TLS certificates are reloaded (SIGHUP); a
   * certificate that fails to load keeps the old one and rejects.
   */
  async reload(config: Config = this.config): Promise<void> {
    this.config = config;
    await this.#server?.reloadTls();
  }

  /** Stops listening, lets sessions and deliveries finish (when draining), closes everything. */
  async stop(opts: StopOptions = {}): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    const grace = opts.drain === false ? 0 : opts.timeout ?? this.config.server.shutdown_timeout;
    await this.#server?.close(grace);
    await this.#runner.stop({ timeout: grace });
    await this.#policy.close();
    await this.#events.idle();
    if (this.#ownSpool) this.spool.close();
    this.#lock?.release();
    this.log.info("edge relay stopped", { event: "stop" });
    if (this.#ownLog) this.log.close();
  }
}

/**
 * Takes the spool's lock (refused, naming the pid, when another process holds it) and checks
 * the store on disk (SQLite quick_check; a missing `spool.kv` beside an earlier spool's files
 * is an error). Null for an in-memory spool.
 */
async function ownSpool(dir: string): Promise<SpoolLock | null> {
  if (dir === ":memory:") return null;
  const lock = await SpoolLock.acquire(dir);
  try {
    await verifySpool(dir, { hadLock: lock.existed });
    return lock;
  } catch (e) {
    lock.release();
    throw e;
  }
}

function arrival(e: Envelope): RelayEvent {
  return {
    kind: "arrival",
    id: e.id,
    sender: e.sender,
    recipients: e.recipients.map((r) => r.address),
    size: e.size,
    protocol: e.protocol,
    listener: e.listener,
    client: e.client.ip,
  };
}

export type { DeliveryEvent };
