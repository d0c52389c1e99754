import { Buffer } from "node:buffer";
import { generateKeyPairSync } from "node:crypto";
import type { ZoneRecord } from "./dns_server.ts";

/** A DKIM key pair in the forms signers, verifiers and DNS want. */
export interface DkimTestKey {
  /** PKCS#8 PEM, for signDkim. */
  pem: string;
  /** What dkimpy wants: PKCS#1 PEM (RSA) or base64 of the seed (Ed25519). */
  dkimpyKey: string;
  /** The key record's text (RFC 6376 3.6.1). */
  record: string;
}

/** Generates an RSA (2048) or Ed25519 key for tests. */
export function makeDkimKey(type: "rsa" | "ed25519"): DkimTestKey {
  if (type === "rsa") {
    const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const spki = publicKey.export({ type: "spki", format: "der" }).toString("base64");
    return {
      pem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
      dkimpyKey: privateKey.export({ type: "pkcs1", format: "pem" }).toString(),
      record: `v=DKIM1; k=rsa; p=${spki}`,
    };
  }
  const { publicKey, privateKey } = generateKeyPairSync("ed25519");
  const jwk = privateKey.export({ format: "jwk" });
  const raw = Buffer.from(publicKey.export({ format: "jwk" }).x!, "base64url").toString("base64");
  return {
    pem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    dkimpyKey: Buffer.from(jwk.d!, "base64url").toString("base64"),
    record: `v=DKIM1; k=ed25519; p=${raw}`,
  };
}

/** The key as a TXT record, split into strings of at most 255 octets (RFC 1035 3.3.14). */
export function keyRecord(name: string, record: string): ZoneRecord {
  return { name, type: "TXT", data: record.match(/.{1,255}/g)! };
}
