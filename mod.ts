/**
 * edge relay as a library: start a mail relay inside a Deno program from settings (no TOML
 * file needed), inject messages, observe events, stop it.
 *
 * Run with `--unstable-kv` (the spool is Deno KV) and the permissions the relay needs
 * (`--allow-net --allow-read --allow-write --allow-env --allow-sys`, and `--allow-ffi` for
 * LMDB lookups and TLS).
 *
 * @example Start a relay on a free loopback port, inject a message, see it delivered
 * ```ts
 * import { EdgeRelay } from "./mod.ts";
 *
 * const relay = await EdgeRelay.start({
 *   server: { hostname: "relay.example.test", spool: ":memory:" },
 *   listen: [{ address: "127.0.0.1:0" }],
 *   route: [{ domains: "*", transport: "drop" }],
 *   transport: { drop: { driver: "discard" } },
 * });
 * const delivered = Promise.withResolvers<string>();
 * relay.onEvent((e) => {
 *   if (e.kind === "delivered") delivered.resolve(e.id);
 * });
 * console.log(`SMTP on port ${relay.addresses[0].port}`);
 * const id = await relay.inject({
 *   sender: "app@example.test",
 *   recipients: ["user@example.org"],
 *   content: "Subject: hello\r\n\r\nHi.\r\n",
 * });
 * console.log(id === await delivered.promise);
 * await relay.stop();
 * ```
 *
 * @module
 */
export {
  type ArrivalEvent,
  EdgeRelay,
  type InjectedMessage,
  InjectError,
  type ListenAddress,
  type RelayEvent,
  type RelayEventListener,
  type RelaySettings,
} from "./lib/relay/mod.ts";
export { ConfigError } from "./lib/config/mod.ts";
export type { DeliveryEvent } from "./lib/queue/mod.ts";
export type {
  ClientInfo,
  Envelope,
  MailDsn,
  Recipient,
  RecipientStatus,
  TlsInfo,
} from "./lib/envelope/mod.ts";
export type { RecipientResult, RemoteInfo, SmtpReply } from "./lib/transport/mod.ts";
