/**
 * The policy engine: ACL stages of `[[acl.STAGE]]` rules whose conditions are CEL
 * expressions over a session context, with lookups, DNSBLs and rate limits; the built-in
 * relay control when no rcpt rule decides.
 *
 * @module
 */
export {
  type AddressContext,
  type Decision,
  PolicyConfigError,
  type PolicyContext,
  type RuleTrace,
  type Stage,
  STAGES,
  type VarValue,
  type Verb,
  VERBS,
} from "./types.ts";
export {
  connectionVars,
  isMessageVar,
  makeContext,
  type PolicyContextInit,
  splitAddress,
} from "./context.ts";
export { PolicyEngine, type PolicyEngineOptions } from "./engine.ts";
export { type RuleConfig } from "./compile.ts";
export { DEFAULT_RCPT_RULES } from "./defaults.ts";
export { domainIn, type SpfFunction } from "./functions.ts";
export {
  KvRateLimiter,
  parseRate,
  type Rate,
  type RateLimiter,
  RedisRateLimiter,
} from "./ratelimit.ts";
export { openPolicy, type Policy, type PolicySettings } from "./setup.ts";
export { relayResolver } from "./resolver.ts";
export { formatDecision } from "./trace.ts";
export { type PolicyClient, PolicySession } from "./session.ts";
