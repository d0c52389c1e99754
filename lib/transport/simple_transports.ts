import type { Recipient } from "../envelope/mod.ts";
import type { OutboundMessage, RecipientResult, Transport } from "./types.ts";

/** Accepts every recipient and throws the message away (`driver = "discard"`). */
export class DiscardTransport implements Transport {
  /** The transport's name. */
  readonly name: string;
  /** Creates the transport. */
  constructor(name: string) {
    this.name = name;
  }
  /** Marks every recipient delivered. */
  deliver(_m: OutboundMessage, recipients: Recipient[]): Promise<RecipientResult[]> {
    return Promise.resolve(recipients.map((r) => ({
      address: r.address,
      status: "delivered" as const,
      diagnostic: "discarded",
    })));
  }
  /** Nothing to close. */
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** Fails every recipient with a fixed message (`driver = "fail"`). */
export class FailTransport implements Transport {
  /** The transport's name. */
  readonly name: string;
  #message: string;
  /** Creates the transport with the text bounces will carry. */
  constructor(name: string, message = "Recipient address rejected by routing rule") {
    this.name = name;
    this.#message = message;
  }
  /** Marks every recipient failed. */
  deliver(_m: OutboundMessage, recipients: Recipient[]): Promise<RecipientResult[]> {
    return Promise.resolve(recipients.map((r) => ({
      address: r.address,
      status: "failed" as const,
      diagnostic: this.#message,
    })));
  }
  /** Nothing to close. */
  close(): Promise<void> {
    return Promise.resolve();
  }
}
