import { isIP, normalizeIP, parseIP } from "../net/mod.ts";

/** The PTR query name of an address (RFC 1035 3.5, RFC 3596 2.5). */
export function ptrName(ip: string): string {
  const b = parseIP(ip);
  if (!b) throw new RangeError(`Not an IP address: ${ip}`);
  if (b.length === 4) return `${[...b].reverse().join(".")}.in-addr.arpa.`;
  const nibbles = [...b].flatMap((x) => [x >> 4, x & 15]).reverse().map((n) => n.toString(16));
  return `${nibbles.join(".")}.ip6.arpa.`;
}

/**
 * Looks up the client's host name and keeps it only when it resolves back to the address
 * (forward-confirmed reverse DNS, as Postfix and Exim do). Loopback is `localhost`.
 * Returns undefined when nothing verifiable was found within the timeout.
 */
export async function reverseLookup(ip: string, timeoutMs: number): Promise<string | undefined> {
  if (!isIP(ip)) return undefined;
  const n = normalizeIP(ip);
  if (n === "::1" || n.startsWith("127.")) return "localhost";
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const names = await Deno.resolveDns(ptrName(n), "PTR", { signal });
    for (const name of names.slice(0, 5)) {
      const host = name.replace(/\.$/, "");
      const type = n.includes(":") ? "AAAA" : "A";
      const addrs = await Deno.resolveDns(host, type, { signal });
      if (addrs.some((a) => normalizeIP(a) === n)) return host.toLowerCase();
    }
  } catch { /* no name, or the resolver did not answer in time */ }
  return undefined;
}
