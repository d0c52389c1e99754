// The few parts of npm:dns-packet this project uses. Kept here rather than pulling in
// @types/dns-packet, whose @types/node dependency changes the types of node: built-ins.

/** A resource record as dns-packet encodes and decodes it. */
export interface Answer {
  name: string;
  type: string;
  ttl?: number;
  class?: string;
  flush?: boolean;
  data?: unknown;
  udpPayloadSize?: number;
  flags?: number;
}

/** A DNS message as dns-packet encodes and decodes it. */
export interface Packet {
  id?: number;
  type?: "query" | "response";
  flags?: number;
  rcode?: string;
  flag_tc?: boolean;
  flag_ad?: boolean;
  flag_aa?: boolean;
  questions?: { name: string; type: string; class?: string }[];
  answers?: Answer[];
  authorities?: Answer[];
  additionals?: Answer[];
}

/** Record type names, for example `A`, `MX`, `TLSA`. */
export type RecordType = string;

export function encode(p: Packet): Uint8Array;
export function decode(b: Uint8Array): Packet;
export const AUTHORITATIVE_ANSWER: number;
export const TRUNCATED_RESPONSE: number;
export const RECURSION_DESIRED: number;
export const RECURSION_AVAILABLE: number;
export const AUTHENTIC_DATA: number;
export const CHECKING_DISABLED: number;
