import { AddressError, parseIPv6 } from "./ip.ts";

/** A host and port, as in a listen address or a smarthost. */
export interface HostPort {
  host: string;
  port: number;
}

/**
 * Parses `127.0.0.1:2525`, `[::1]:2525` or `host:25`; `defaultPort` fills a missing port.
 *
 * @throws {AddressError} when the text is not a host and port
 */
export function parseHostPort(text: string, defaultPort?: number): HostPort {
  let host: string;
  let port: string | undefined;
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (m) {
    if (!parseIPv6(m[1])) throw new AddressError(`Cannot parse "${text}": bad IPv6 address`);
    [host, port] = [m[1], m[2]];
  } else if ((text.match(/:/g) ?? []).length > 1) {
    throw new AddressError(`Cannot parse "${text}": write IPv6 addresses as [addr]:port`);
  } else {
    [host, port] = text.split(":");
  }
  if (!host) throw new AddressError(`Cannot parse "${text}": no host`);
  if (port === undefined) {
    if (defaultPort === undefined) throw new AddressError(`Cannot parse "${text}": no port`);
    return { host, port: defaultPort };
  }
  const n = Number(port);
  if (!/^\d+$/.test(port) || n > 65535) {
    throw new AddressError(`Cannot parse "${text}": port must be 0 to 65535`);
  }
  return { host, port: n };
}

/** Formats a host and port, bracketing IPv6. */
export function formatHostPort(hp: HostPort): string {
  return hp.host.includes(":") ? `[${hp.host}]:${hp.port}` : `${hp.host}:${hp.port}`;
}
