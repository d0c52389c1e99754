import { z } from "zod";
import { parseDuration, parseSize } from "./units.ts";
import { type AddressError, parseCidr, parseHostPort } from "../net/mod.ts";

/** A duration text (`30s`, `5m`) parsed to milliseconds. */
export const duration = z.union([z.string(), z.number()]).transform((v, ctx) => {
  try {
    return parseDuration(v);
  } catch (e) {
    ctx.addIssue({ code: "custom", message: (e as Error).message });
    return z.NEVER;
  }
});

/** A size text (`50M`) parsed to bytes. */
export const size = z.union([z.string(), z.number()]).transform((v, ctx) => {
  try {
    return parseSize(v);
  } catch (e) {
    ctx.addIssue({ code: "custom", message: (e as Error).message });
    return z.NEVER;
  }
});

/** A network in CIDR notation (checked, kept as text). */
export const cidr = z.string().superRefine((v, ctx) => {
  try {
    parseCidr(v);
  } catch (e) {
    ctx.addIssue({ code: "custom", message: (e as AddressError).message });
  }
});

/** A `host:port` or `[v6]:port` text (checked, kept as text). */
export const hostPort = z.string().superRefine((v, ctx) => {
  try {
    parseHostPort(v);
  } catch (e) {
    ctx.addIssue({ code: "custom", message: (e as AddressError).message });
  }
});
