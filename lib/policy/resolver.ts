import { DnsError, type Resolver } from "../dns/mod.ts";
import { type DnsRecordType, type DnsResolver, LookupDeferError } from "../lookup/mod.ts";

/**
 * Lets lookups and `dnsbl()` ask through the relay's own resolver (lib/dns): NXDOMAIN and
 * NODATA become null (not listed), temporary failures (SERVFAIL, timeouts) become
 * {@linkcode LookupDeferError} so the client gets a 4xx, never a pass.
 *
 * @example Usage
 * ```ts
 * const policy = await openPolicy(config, { kv, resolver: relayResolver(new Resolver()) });
 * ```
 */
export function relayResolver(resolver: Resolver): DnsResolver {
  return {
    async resolve(name: string, type: DnsRecordType): Promise<string[] | null> {
      try {
        let list: string[];
        switch (type) {
          case "A":
            list = await resolver.resolveA(name);
            break;
          case "AAAA":
            list = await resolver.resolveAAAA(name);
            break;
          case "TXT":
            list = await resolver.resolveTxt(name);
            break;
          case "MX":
            list = (await resolver.resolveMx(name)).map((m) => `${m.preference} ${m.exchange}`);
            break;
        }
        return list.length ? list : null;
      } catch (e) {
        if (e instanceof DnsError && !e.temporary) return null;
        throw new LookupDeferError(
          `DNS ${type} query for ${name} failed: ${(e as Error).message}`,
          {
            cause: e,
          },
        );
      }
    },
  };
}
