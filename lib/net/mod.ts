/**
 * Address helpers shared by every area: IP parsing and formatting, CIDR lists, host:port.
 *
 * @module
 */
export { AddressError, formatIP, isIP, normalizeIP, parseIP, parseIPv4, parseIPv6 } from "./ip.ts";
export { type Cidr, cidrContains, CidrList, parseCidr } from "./cidr.ts";
export { formatHostPort, type HostPort, parseHostPort } from "./host_port.ts";
