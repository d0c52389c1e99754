import type { Resolver } from "../dns/mod.ts";
import { isIP, normalizeIP } from "../net/mod.ts";

/**
 * Looks up the client's host name through the relay's resolver (`[dns]`, its cache) and keeps
 * it only when it resolves back to the address (forward-confirmed reverse DNS, as Postfix and
 * Exim do). Loopback is `localhost`. Returns undefined when nothing verifiable was found
 * (the resolver's own timeout bounds the wait).
 */
export async function reverseLookup(resolver: Resolver, ip: string): Promise<string | undefined> {
  if (!isIP(ip)) return undefined;
  const n = normalizeIP(ip);
  if (n === "::1" || n.startsWith("127.")) return "localhost";
  try {
    const names = await resolver.resolvePtr(n);
    for (const name of names.slice(0, 5)) {
      const host = name.replace(/\.$/, "");
      const addrs = n.includes(":")
        ? await resolver.resolveAAAA(host)
        : await resolver.resolveA(host);
      if (addrs.some((a) => normalizeIP(a) === n)) return host.toLowerCase();
    }
  } catch { /* no name, or the resolver did not answer in time */ }
  return undefined;
}
