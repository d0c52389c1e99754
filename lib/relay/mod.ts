/**
 * The running relay as one object: spool, resolver, lookups and ACLs, SMTP listeners, queue
 * runner and an event stream, built from a validated configuration. Also the embedding API.
 *
 * @module
 */
export { Relay, type RelayOptions, type StopOptions } from "./relay.ts";
export { type ArrivalEvent, EventHub, type RelayEvent, type RelayEventListener } from "./events.ts";
export { type InjectedMessage, InjectError } from "./inject.ts";
export { buildPolicy, buildRunner, daneSelfTest, resolverFor, type RunnerParts } from "./parts.ts";
export { EdgeRelay, type ListenAddress, type RelaySettings } from "./embedded.ts";
