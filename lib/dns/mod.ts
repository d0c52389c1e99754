/**
 * A stub DNS resolver on dns-packet (UDP, TCP fallback, TTL cache, AD bit, typed failures)
 * and MX resolution for mail delivery (RFC 5321 5.1, RFC 7505).
 *
 * @module
 */
export { DnsError, type DnsFailure } from "./errors.ts";
export {
  byPreference,
  hostAddresses,
  type MxHost,
  type MxOptions,
  resolveMxHosts,
  secureHostAddresses,
} from "./mx.ts";
export { checkDnssec } from "./dnssec_probe.ts";
export { parseResolvConf, readResolvConf, type ResolvConf } from "./resolv_conf.ts";
export {
  type DnsResult,
  Resolver,
  type ResolverOptions,
  reverseName,
  type SecureAddresses,
  type TlsaAnswer,
  type TlsaRecord,
} from "./resolver.ts";
export { type Answer, type Packet } from "./wire.ts";
