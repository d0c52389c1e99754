/** The test-tool checks fail with the Debian package to install, never skip. */
import { assertEquals, assertThrows } from "./helpers/assert.ts";
import {
  missingSwaksFeatures,
  MissingTestDependencyError,
  requireProgram,
  requirePythonModules,
  requireSwaks,
} from "./helpers/requirements.ts";

// `swaks --support` on Debian 12 after `apt-get install --no-install-recommends swaks`.
const BARE_SWAKS = `=== AUTH CRAM-MD5 supported
=== AUTH CRAM-SHA1 supported
*** AUTH DIGEST-MD5 not available: requires Authen::SASL
*** AUTH NTLM not available: requires Authen::NTLM
=== Basic AUTH supported
=== Date Manipulation supported
=== High Resolution Timing supported
*** IPv6 not available: requires IO::Socket::INET6
=== Local Hostname Detection supported
*** MX Routing not available: requires Net::DNS
=== Netrc Credentials supported
=== Pipe Transport supported
=== Socket Transport supported
*** TLS not available: requires Net::SSLeay
`;

const FULL_SWAKS = BARE_SWAKS
  .replace("*** IPv6 not available: requires IO::Socket::INET6", "=== IPv6 supported")
  .replace("*** TLS not available: requires Net::SSLeay", "=== TLS supported");

Deno.test("missingSwaksFeatures() names the package of each feature a swaks run uses", () => {
  const pkgs = (support: string, args: string[]) =>
    missingSwaksFeatures(support, args).map((f) => f.pkg);
  assertEquals(pkgs(BARE_SWAKS, ["--server", "127.0.0.1:25", "--tls"]), ["libnet-ssleay-perl"]);
  assertEquals(pkgs(BARE_SWAKS, ["--tls-on-connect"]), ["libnet-ssleay-perl"]);
  assertEquals(pkgs(BARE_SWAKS, ["-6", "--server", "::1", "--port", "25"]), [
    "libio-socket-inet6-perl",
  ]);
  assertEquals(pkgs(BARE_SWAKS, ["--server", "[::1]:25", "--tls"]), [
    "libnet-ssleay-perl",
    "libio-socket-inet6-perl",
  ]);
  assertEquals(pkgs(BARE_SWAKS, ["--auth", "DIGEST-MD5"]), ["libauthen-sasl-perl"]);
  // Plain IPv4 without TLS works with a bare swaks; a complete one has everything.
  assertEquals(pkgs(BARE_SWAKS, ["--server", "127.0.0.1:25", "--auth", "PLAIN"]), []);
  assertEquals(pkgs(FULL_SWAKS, ["-6", "--server", "::1", "--tls"]), []);
});

Deno.test("a missing program or Python module fails with its Debian package", () => {
  assertThrows(
    () => requireProgram("/nonexistent/bin/tool", "tool-pkg"),
    MissingTestDependencyError,
    "install the Debian package tool-pkg",
  );
  assertThrows(
    () => requirePythonModules({ no_such_module_for_relay_tests: "python3-nothing" }),
    MissingTestDependencyError,
    "the Python module no_such_module_for_relay_tests is missing",
  );
});

Deno.test("the swaks on this machine has what the tests use (TLS and IPv6)", () => {
  requireSwaks(["--tls", "-6", "--server", "::1"]);
  requirePythonModules({ dkim: "python3-dkim", nacl: "python3-nacl", authres: "python3-authres" });
});
