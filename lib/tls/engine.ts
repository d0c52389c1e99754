import { openssl } from "./_openssl.ts";

/**
 * Loads OpenSSL now (at start-up) rather than at the first STARTTLS.
 *
 * @throws {TlsError} in one line when libssl.so.3 cannot be loaded
 */
export function checkOpenssl(): void {
  openssl();
}
