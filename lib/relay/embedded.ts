import { stringify } from "smol-toml";
import { defaultConfig, loadConfig, parseConfig } from "../config/mod.ts";
import type { Envelope } from "../envelope/mod.ts";
import type { RelayEventListener } from "./events.ts";
import type { InjectedMessage } from "./inject.ts";
import { Relay } from "./relay.ts";

/**
 * Settings as the TOML file's tables would parse: `{ server: { hostname: "..." }, listen:
 * [{ address: "127.0.0.1:0" }] }`. Durations and sizes are strings as in TOML (`"30s"`,
 * `"10MB"`). Omitted keys take their defaults (config.example.toml).
 */
export type RelaySettings = Record<string, unknown>;

/** Where a started relay listens. */
export interface ListenAddress {
  /** The `[[listen]] address` as configured. */
  address: string;
  /** The bound host. */
  hostname: string;
  /** The bound port (the real one when configured as 0). */
  port: number;
}

/**
 * The relay embedded in a Deno program: started from settings (no TOML file needed),
 * messages injected, events observed, stopped. It is the same object `relay serve` runs.
 *
 * @example Start, inject, see it delivered, stop
 * ```ts
 * const relay = await EdgeRelay.start({
 *   server: { hostname: "relay.example.test", spool: ":memory:" },
 *   listen: [{ address: "127.0.0.1:0" }],
 *   route: [{ domains: "*", transport: "drop" }],
 *   transport: { drop: { driver: "discard" } },
 * });
 * relay.onEvent((e) => console.log(e.kind, e.id));
 * const id = await relay.inject({
 *   sender: "app@example.test",
 *   recipients: ["user@example.org"],
 *   content: "Subject: hello\r\n\r\nHi.\r\n",
 * });
 * await relay.stop();
 * ```
 */
export class EdgeRelay {
  readonly #relay: Relay;

  private constructor(relay: Relay) {
    this.#relay = relay;
  }

  /**
   * Validates the settings, opens the spool, binds the listeners and starts delivering.
   *
   * @param settings the configuration's tables, or `{ file: "relay.toml" }` to read a file
   * @throws {ConfigError} naming the key that is wrong
   */
  static async start(settings: RelaySettings | { file: string } = {}): Promise<EdgeRelay> {
    const config = typeof settings.file === "string"
      ? await loadConfig(settings.file)
      : Object.keys(settings).length === 0
      ? defaultConfig()
      : parseConfig(stringify(settings), "<settings>");
    const relay = await Relay.open({ config });
    try {
      await relay.start();
    } catch (e) {
      await relay.stop({ drain: false });
      throw e;
    }
    return new EdgeRelay(relay);
  }

  /** The bound listeners. */
  get addresses(): ListenAddress[] {
    return this.#relay.addresses.map((a) => ({
      address: a.listen.address,
      hostname: a.hostname,
      port: a.port,
    }));
  }

  /**
   * Calls `listener` for every event, asynchronously, after what it describes was committed;
   * a listener that throws or rejects is logged, never fatal. Returns an unsubscribe function.
   */
  onEvent(listener: RelayEventListener): () => void {
    return this.#relay.onEvent(listener);
  }

  /** Stores a message (resolves after the spool commit, like a 250) and queues it for delivery. */
  inject(message: InjectedMessage): Promise<string> {
    return this.#relay.inject(message);
  }

  /** The queued messages. */
  async queued(): Promise<Envelope[]> {
    const all: Envelope[] = [];
    for await (const e of this.#relay.queue.list()) all.push(e);
    return all;
  }

  /** Lets sessions and deliveries finish (up to `[server] shutdown_timeout`) and closes everything. */
  stop(opts: { drain?: boolean } = {}): Promise<void> {
    return this.#relay.stop(opts);
  }
}
