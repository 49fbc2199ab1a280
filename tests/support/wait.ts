/**
 * THE wait/retry helper of the project: poll a check until it yields a truthy value, within a bound.
 *
 * Every "wait until X is ready / in sync / elected" in the tests, `npm run dev` and the benchmark goes
 * through `waitFor`, so that every wait is bounded and every timeout says what it was waiting for
 * and why the last attempt failed.
 */

export interface WaitForOptions {
  /** What is being waited for, in words; it names the wait in the timeout error. */
  readonly what: string;
  /**
   * Give up after this long.
   * @default 10000
   */
  readonly timeoutMs?: number;
  /**
   * Pause between two checks (measured from the end of one check to the start of the next).
   * @default 100
   */
  readonly intervalMs?: number;
  /** Aborting it stops the polling at once; `waitFor` then rejects with the abort reason. */
  readonly signal?: AbortSignal;
}

/** Thrown when a wait runs out of time; `lastError` is the last exception the check threw, if any. */
export class WaitTimeoutError extends Error {
  constructor(
    readonly what: string,
    readonly timeoutMs: number,
    readonly attempts: number,
    readonly lastError: unknown,
  ) {
    const cause = lastError === undefined ? '' : `; last attempt failed: ${describeError(lastError)}`;
    super(`timed out after ${timeoutMs} ms waiting for ${what} (${attempts} attempts${cause})`);
    this.name = 'WaitTimeoutError';
  }
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function abortReason(signal: AbortSignal, what: string): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new Error(`stopped waiting for ${what}: ${String(reason)}`);
}

/**
 * Calls `check` until it returns (or resolves to) a truthy value and resolves with that value.
 * A check that throws or rejects counts as "not yet"; its error is kept for the timeout message.
 * The check is always called at least once, even with a zero timeout.
 */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  options: WaitForOptions,
): Promise<NonNullable<T>> {
  const { what, timeoutMs = 10_000, intervalMs = 100, signal } = options;
  if (!(timeoutMs >= 0) || !(intervalMs >= 0)) {
    throw new RangeError(`waitFor(${what}): timeoutMs and intervalMs must be >= 0`);
  }
  const deadline = Date.now() + timeoutMs;
  let attempts = 0;
  let lastError: unknown;
  for (;;) {
    if (signal?.aborted) throw abortReason(signal, what);
    attempts += 1;
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
      lastError = undefined;
    } catch (error) {
      lastError = error;
    }
    const remaining = deadline - Date.now();
    if (remaining <= 0) throw new WaitTimeoutError(what, timeoutMs, attempts, lastError);
    await sleep(Math.min(intervalMs, remaining), signal);
  }
}
