import { waitFor, WaitTimeoutError } from '../../support/wait';

describe('waitFor', () => {
  it('resolves with the first truthy value the check returns', async () => {
    let calls = 0;
    const value = await waitFor(
      () => {
        calls += 1;
        return calls >= 3 ? { calls } : undefined;
      },
      { what: 'the third call', intervalMs: 1, timeoutMs: 5_000 },
    );
    expect(value).toEqual({ calls: 3 });
  });

  it('awaits async checks and treats a thrown error as "not yet"', async () => {
    let calls = 0;
    const value = await waitFor(
      async () => {
        calls += 1;
        if (calls < 2) throw new Error('connection refused');
        return 'up';
      },
      { what: 'a flaky service', intervalMs: 1, timeoutMs: 5_000 },
    );
    expect(value).toBe('up');
    expect(calls).toBe(2);
  });

  it('rejects after the timeout with a message naming what it waited for and the last error', async () => {
    const wait = waitFor(
      () => {
        throw new Error('ECONNREFUSED 127.0.0.1:6379');
      },
      { what: 'redis-master to accept connections', intervalMs: 5, timeoutMs: 30 },
    );
    await expect(wait).rejects.toBeInstanceOf(WaitTimeoutError);
    await expect(wait).rejects.toThrow(/waiting for redis-master to accept connections.*ECONNREFUSED 127\.0\.0\.1:6379/);
  });

  it('does not report a stale error when the last attempt merely returned a falsy value', async () => {
    let calls = 0;
    const wait = waitFor(
      () => {
        calls += 1;
        if (calls === 1) throw new Error('first failure');
        return false;
      },
      // Long enough for a second attempt even on a loaded machine.
      { what: 'a flag', intervalMs: 1, timeoutMs: 2_000 },
    );
    await expect(wait).rejects.toThrow(/waiting for a flag \(\d+ attempts\)$/);
  });

  it('checks at least once even with a zero timeout', async () => {
    await expect(waitFor(() => 42, { what: 'the answer', timeoutMs: 0 })).resolves.toBe(42);
    await expect(waitFor(() => 0, { what: 'zero', timeoutMs: 0 })).rejects.toThrow(/waiting for zero \(1 attempts\)/);
  });

  it('stops as soon as its abort signal fires, with the abort reason', async () => {
    const controller = new AbortController();
    let calls = 0;
    const wait = waitFor(
      () => {
        calls += 1;
        if (calls === 2) controller.abort(new Error('process exited'));
        return false;
      },
      { what: 'never', intervalMs: 1, timeoutMs: 60_000, signal: controller.signal },
    );
    await expect(wait).rejects.toThrow('process exited');
    expect(calls).toBe(2);
  });

  it('rejects negative bounds at once', async () => {
    await expect(waitFor(() => true, { what: 'x', timeoutMs: -1 })).rejects.toThrow(RangeError);
  });
});
