/**
 * Routing: which transport each recipient goes to, from `[[route]]` rules and
 * `[transport.NAME]` sections (smtp by MX or smarthost, discard, fail).
 *
 * @module
 */
export { matchDomain } from "./domain_pattern.ts";
export {
  DEFAULT_TRANSPORT,
  type DeliveryGroup,
  type RouteLookups,
  Router,
  RouterConfigError,
  type RouterOptions,
  type RouteRule,
  type TransportSettings,
  type UnresolvedRecipient,
} from "./router.ts";
