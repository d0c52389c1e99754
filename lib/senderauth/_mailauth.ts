/**
 * mailauth, loaded on first use: with what it pulls in (public suffix list, MIME parsers) it is
 * about 40 MB of a relay's resident memory, and a relay that checks and signs nothing never
 * needs it.
 */
type Mailauth = typeof import("mailauth");

let loading: Promise<Mailauth> | null = null;

/** The mailauth module (imported once, the first time a check needs it). */
export function mailauth(): Promise<Mailauth> {
  return loading ??= import("mailauth");
}
