/** Assertions for tests, on top of node:assert (std's assert is on jsr, which is unreachable). */
import * as nodeAssert from "node:assert/strict";

/** Deep strict equality. */
export function assertEquals<T>(actual: T, expected: T, msg?: string): void {
  nodeAssert.deepStrictEqual(actual, expected, msg);
}

/** Truthiness. */
export function assert(value: unknown, msg?: string): asserts value {
  nodeAssert.ok(value, msg);
}

/** The text matches the pattern. */
export function assertMatch(actual: string, re: RegExp, msg?: string): void {
  nodeAssert.match(actual, re, msg);
}

/** The text does not match the pattern. */
export function assertNotMatch(actual: string, re: RegExp, msg?: string): void {
  nodeAssert.doesNotMatch(actual, re, msg);
}

/** The function throws an error of the class whose message includes `includes`. */
export function assertThrows(
  fn: () => unknown,
  // deno-lint-ignore no-explicit-any
  cls: new (...args: any[]) => Error,
  includes?: string,
): Error {
  try {
    fn();
  } catch (e) {
    nodeAssert.ok(e instanceof cls, `expected ${cls.name}, got ${e}`);
    if (includes) nodeAssert.ok((e as Error).message.includes(includes), (e as Error).message);
    return e as Error;
  }
  throw new nodeAssert.AssertionError({ message: `expected ${cls.name} to be thrown` });
}

/** The promise rejects with an error of the class whose message includes `includes`. */
export async function assertRejects(
  fn: () => Promise<unknown>,
  // deno-lint-ignore no-explicit-any
  cls: new (...args: any[]) => Error,
  includes?: string,
): Promise<Error> {
  try {
    await fn();
  } catch (e) {
    nodeAssert.ok(e instanceof cls, `expected ${cls.name}, got ${e}`);
    if (includes) nodeAssert.ok((e as Error).message.includes(includes), (e as Error).message);
    return e as Error;
  }
  throw new nodeAssert.AssertionError({ message: `expected ${cls.name} rejection` });
}
