/**
 * Matches a domain against a route pattern: `*` (any), `*.example.org` (any subdomain of
 * example.org, not example.org itself), or `example.org` (exactly, case-insensitive).
 */
export function matchDomain(pattern: string, domain: string): boolean {
  const p = pattern.toLowerCase().replace(/\.$/, "");
  const d = domain.toLowerCase().replace(/\.$/, "");
  if (p === "*") return true;
  if (p.startsWith("*.")) return d.endsWith(p.slice(1)) && d.length > p.length - 1;
  return p === d;
}
