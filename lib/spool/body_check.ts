import { createHash } from "node:crypto";
import { SpoolError } from "./errors.ts";

/** What the envelope recorded about its body when it was committed. */
export interface BodyRecord {
  id: string;
  /** Bytes stored: the head record (when there is one) and the chunks. */
  size: number;
  /** Chunks stored (keys `["body", id, 0 .. chunks - 1]`). */
  chunks: number;
  /** Bytes of the head record `["body", id, -1]` (header fields we added), when present. */
  headSize?: number;
  /** SHA-256 of the chunks (the message as received, without the head record), hex. */
  bodySha256?: string;
}

/**
 * The stored body does not match its envelope (chunks missing, or different bytes): the
 * message must not be sent, since it would go out truncated. The queue freezes it.
 */
export class BodyMismatchError extends SpoolError {
  /** The message. */
  readonly id: string;
  /** Creates the error for message `id`, saying what differs. */
  constructor(id: string, message: string) {
    super(`Body of ${id} does not match its envelope: ${message}`);
    this.name = "BodyMismatchError";
    this.id = id;
  }
}

/** SHA-256 of body chunks, hex: what {@linkcode BodyRecord.bodySha256} holds. */
export function bodyDigest(chunks: Iterable<Uint8Array>): string {
  const h = createHash("sha256");
  for (const c of chunks) h.update(c);
  return h.digest("hex");
}

/**
 * Passes body chunks through while checking them against the envelope: each chunk in order
 * with none missing, then (before the reader sees the end) the count, the total size and the
 * hash when one was recorded. Any difference throws {@linkcode BodyMismatchError}, so a
 * reader that streams the body out (SMTP DATA) never reaches the final dot with a body
 * that is not the one accepted.
 */
export async function* checkedBody(
  entries: AsyncIterable<Deno.KvEntry<Uint8Array>>,
  record: BodyRecord,
): AsyncGenerator<Uint8Array> {
  const hash = record.bodySha256 ? createHash("sha256") : null;
  let n = 0;
  let size = 0;
  let head = 0;
  for await (const e of entries) {
    if (e.key[2] === -1 && n === 0 && head === 0) {
      // The head record: header fields the relay added in front of the message.
      head = e.value.length;
      if (head !== (record.headSize ?? 0)) {
        throw new BodyMismatchError(
          record.id,
          `head record of ${head} bytes, the envelope says ${record.headSize ?? 0}`,
        );
      }
      size += head;
      yield e.value;
      continue;
    }
    if (e.key[2] !== n) {
      throw new BodyMismatchError(
        record.id,
        `chunk ${n} is missing (found chunk ${String(e.key[2])})`,
      );
    }
    n++;
    size += e.value.length;
    if (size > record.size || n > record.chunks) break;
    hash?.update(e.value);
    yield e.value;
  }
  if (head !== (record.headSize ?? 0)) {
    throw new BodyMismatchError(
      record.id,
      `the head record of ${record.headSize} bytes is missing`,
    );
  }
  if (n !== record.chunks || size !== record.size) {
    throw new BodyMismatchError(
      record.id,
      `found ${n} chunk(s) of ${size} bytes, the envelope says ${record.chunks} of ${record.size}`,
    );
  }
  if (hash && hash.digest("hex") !== record.bodySha256) {
    throw new BodyMismatchError(record.id, "its SHA-256 differs from the one stored at commit");
  }
}
