/** The result of a lookup: the value, or null when the key is absent. */
export type LookupValue = string | null;

/**
 * One lookup table (`[lookup.NAME]`): a read-mostly map from keys to values.
 * Drivers throw {@linkcode LookupDeferError} for temporary failures and
 * {@linkcode LookupError} for permanent ones; they never answer "absent" on failure.
 */
export interface Lookup {
  /** The table's name in the configuration, for messages. */
  readonly name: string;
  /** The driver (`file`, `lmdb`, `redis`, `kv`, `dns`). */
  readonly driver: string;
  /** Returns the value for the key, or null when the table has no such key. */
  get(key: string): Promise<LookupValue>;
  /**
   * Returns the key's value as a list (set and list results: Redis SMEMBERS, DNS TXT
   * records, comma lists in files), or null when absent. Drivers without lists may omit it.
   */
  members?(key: string): Promise<string[] | null>;
  /** Releases files, connections and libraries. */
  close(): void | Promise<void>;
}

/** Counters kept per table by the cache wrapper. */
export interface LookupStats {
  /** Answers served from the cache (positive or negative). */
  hits: number;
  /** Answers fetched from the driver. */
  misses: number;
  /** Driver failures (temporary or permanent). */
  errors: number;
}

/** A lookup failed for a reason that may go away: the SMTP client gets a 4xx, never a pass. */
export class LookupDeferError extends Error {
  /** Always true: callers answer 4xx and let the client retry. */
  readonly temporary = true;
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "LookupDeferError";
  }
}

/** A lookup cannot work at all (missing file or library, bad configuration, bad query). */
export class LookupError extends Error {
  /** False: retrying will not help until the configuration changes. */
  readonly temporary = false;
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "LookupError";
  }
}
