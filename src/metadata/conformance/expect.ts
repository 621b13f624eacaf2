/** Assertions shared by the metadata conformance suites. */
import { expect } from 'vitest';
import { isMovingDataError } from '../../errors.ts';

/** `promise` rejects with a MovingDataError of `code`. */
export async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `expected an error with code ${code}`).toBeDefined();
  expect(isMovingDataError(err), `expected a MovingDataError, got ${String(err)}`).toBe(true);
  expect((err as { code: string }).code).toBe(code);
}
