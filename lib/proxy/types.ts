/** An endpoint carried by a PROXY header. */
export interface ProxyAddress {
  /** IP address normalised (IPv4-mapped IPv6 as IPv4), or a UNIX socket path. */
  address: string;
  /** TCP/UDP port; 0 for UNIX sockets. */
  port: number;
}

/** One type-length-value record of a v2 header, as received. */
export interface ProxyTlv {
  /** The TLV type byte (0x01 ALPN ... 0x30 NETNS, or any other value). */
  type: number;
  /** The value bytes (a copy, safe to keep). */
  value: Uint8Array;
}

/** What the PP2_TYPE_SSL TLV says about the client's TLS connection to the proxy. */
export interface ProxySsl {
  /** The raw client bit field (0x01 SSL, 0x02 CERT_CONN, 0x04 CERT_SESS). */
  client: number;
  /** The raw verify result: zero when a presented certificate was verified. */
  verify: number;
  /** The client presented a certificate on this connection. */
  clientCertConnection: boolean;
  /** The client presented a certificate at least once in this TLS session. */
  clientCertSession: boolean;
  /** A client certificate was presented and verified. */
  verified: boolean;
  /** TLS version, e.g. `TLSv1.3` (sub-TLV 0x21). */
  version?: string;
  /** Cipher name (sub-TLV 0x23). */
  cipher?: string;
  /** Signature algorithm of the proxy's certificate (sub-TLV 0x24). */
  sigAlg?: string;
  /** Key algorithm of the proxy's certificate (sub-TLV 0x25). */
  keyAlg?: string;
  /** Common name of the client certificate (sub-TLV 0x22). */
  cn?: string;
}

/** A parsed PROXY header, v1 or v2. */
export interface ProxyInfo {
  /** 1 for the text header, 2 for the binary one. */
  version: 1 | 2;
  /** PROXY: relayed connection; LOCAL: the proxy's own (health check) connection. */
  command: "PROXY" | "LOCAL";
  /** Transport and address family of the original connection. */
  family: "TCP4" | "TCP6" | "UDP4" | "UDP6" | "UNIX" | "UNKNOWN";
  /** The original client; absent for LOCAL and UNKNOWN. */
  source?: ProxyAddress;
  /** The address the client connected to; absent for LOCAL and UNKNOWN. */
  destination?: ProxyAddress;
  /** PP2_TYPE_ALPN as text. */
  alpn?: string;
  /** PP2_TYPE_AUTHORITY (usually the TLS SNI). */
  authority?: string;
  /** PP2_TYPE_UNIQUE_ID (at most 128 bytes). */
  uniqueId?: Uint8Array;
  /** PP2_TYPE_SSL with its sub-TLVs. */
  ssl?: ProxySsl;
  /** PP2_TYPE_NETNS. */
  netns?: string;
  /** True when a PP2_TYPE_CRC32C TLV was present and matched; absent without one. */
  crc32cVerified?: boolean;
  /** Every TLV, including unknown ones, in the order received (empty for v1). */
  tlvs: ProxyTlv[];
}

/** Result of {@linkcode parseProxyHeader}. */
export type ProxyParse =
  | { status: "incomplete" }
  | { status: "ok"; info: ProxyInfo; length: number };
