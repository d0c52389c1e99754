import type { Logger } from "../log/mod.ts";
import type { DeliveryEvent } from "../queue/mod.ts";

/** A message was durably accepted (SMTP 250, or `Relay.inject`): ours, Exim has no event. */
export interface ArrivalEvent {
  /** The event's name. */
  kind: "arrival";
  /** The queue id. */
  id: string;
  /** The envelope sender (`""` for the null sender). */
  sender: string;
  /** The envelope recipients. */
  recipients: string[];
  /** Stored size in bytes. */
  size: number;
  /** How it came: `esmtp`, `esmtps`, `esmtpsa` ..., or `local` for injected mail. */
  protocol: string;
  /** The listener's configured address (or `inject`). */
  listener: string;
  /** The client's IP address. */
  client: string;
}

/** Everything the relay reports to {@linkcode Relay.onEvent} listeners. */
export type RelayEvent = ArrivalEvent | DeliveryEvent;

/** An event listener; it may be async. */
export type RelayEventListener = (event: RelayEvent) => void | Promise<void>;

/**
 * Hands events to listeners asynchronously, in order, off the path that produced them: a
 * listener that throws or rejects is logged and counted, never fatal.
 */
export class EventHub {
  readonly #listeners = new Set<RelayEventListener>();
  readonly #log: Logger;
  #tail: Promise<void> = Promise.resolve();
  /** Listener failures so far. */
  errors = 0;

  constructor(log: Logger) {
    this.#log = log;
  }

  /** Adds a listener; returns a function that removes it. */
  subscribe(listener: RelayEventListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Whether anyone listens (so callers can skip building an event nobody reads). */
  get listening(): boolean {
    return this.#listeners.size > 0;
  }

  /** Queues an event for every listener (returns at once). */
  emit(event: RelayEvent): void {
    if (this.#listeners.size === 0) return;
    const listeners = [...this.#listeners];
    this.#tail = this.#tail.then(async () => {
      for (const l of listeners) {
        try {
          await l(event);
        } catch (e) {
          this.errors++;
          this.#log.warn(`event listener failed on ${event.kind} ${event.id}: ${errorText(e)}`);
        }
      }
    });
  }

  /** Resolves when every queued event has been handed out. */
  idle(): Promise<void> {
    return this.#tail;
  }
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
