/**
 * SMTP AUTH support: scrypt password hashes, the credentials file, SASL PLAIN/LOGIN decoding
 * and a per-IP failure limiter.
 *
 * @module
 */
export { CredentialsError, CredentialStore } from "./credentials.ts";
export { AuthFailureLimiter } from "./limiter.ts";
export { hashPassword, parseScryptHash, PasswordHashError, verifyPassword } from "./password.ts";
export { decodeBase64, decodePlain, encodeBase64, type SaslResult } from "./sasl.ts";
