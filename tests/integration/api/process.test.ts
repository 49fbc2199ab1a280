/** The API process itself: start-up refusal on a bad environment or a taken port, and its stop (no Redis needed for that). */
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { freePort, startProcess, type ManagedProcess } from '../../support/processes';
import { repositoryRoot } from '../../support/loopback';

jest.setTimeout(60_000);

/** The built API (build/api) with exactly `env`, nothing inherited. */
function startApi(name: string, env: Record<string, string>, ready?: () => Promise<boolean>): Promise<ManagedProcess> {
  return startProcess({
    name,
    command: process.execPath,
    args: [join(repositoryRoot(), 'build/api/src/main.js')],
    cwd: repositoryRoot(),
    inheritEnv: false,
    env,
    ...(ready ? { ready } : {}),
  });
}

async function runWithEnv(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const api = await startApi('api-bad-env', env);
  let timer: NodeJS.Timeout | undefined;
  const code = await Promise.race([api.exited, new Promise<'running'>((r) => (timer = setTimeout(() => r('running'), 10_000)))]);
  clearTimeout(timer);
  if (code === 'running') {
    await api.kill();
    throw new Error('the API kept running with a bad environment');
  }
  return { code, output: api.logTail(50).trim() };
}

describe('start-up with a bad environment', () => {
  it.each([
    [{ API_TOKENS: 'token' }, 'REDIS_SENTINELS'],
    [{ REDIS_SENTINELS: '127.0.0.1:1' }, 'API_TOKENS'],
    [{ REDIS_SENTINELS: '127.0.0.1:1', API_TOKENS: '' }, 'API_TOKENS'],
    [{ REDIS_SENTINELS: 'no-port', API_TOKENS: 'token' }, 'REDIS_SENTINELS'],
    [{ REDIS_SENTINELS: '127.0.0.1:1', API_TOKENS: 'token', PORT: 'http' }, 'PORT'],
    [{ REDIS_SENTINELS: '127.0.0.1:1', API_TOKENS: 'token', LOG_LEVEL: 'verbose' }, 'LOG_LEVEL'],
  ])('%j: exits non-zero with one line naming %s', async (env, variable) => {
    const { code, output } = await runWithEnv(env);
    expect(code).toBe(1);
    expect(output.split('\n')).toHaveLength(1);
    expect(output).toContain(variable);
  });
});

describe('start-up on a port already taken', () => {
  it('exits 1 with one fatal line (flushed from the log buffer), never claiming to listen', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    try {
      const port = (taken.address() as AddressInfo).port;
      const { code, output } = await runWithEnv({ REDIS_SENTINELS: '127.0.0.1:1', API_TOKENS: 'token', HOST: '127.0.0.1', PORT: String(port) });
      expect(code).toBe(1);
      const lines = output.split('\n').map((l) => JSON.parse(l) as { level: number; msg: string; err?: { message?: string } });
      // (Sentinel connection warnings may come first: the Redis clients start before the server listens)
      expect(lines.filter((l) => l.level >= 50)).toEqual([expect.objectContaining({ level: 60, msg: 'cannot listen', err: expect.objectContaining({ message: expect.stringMatching(/EADDRINUSE/) }) })]);
      expect(lines.map((l) => l.msg)).not.toContain('listening');
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });
});

describe('stopping with API_SHUTDOWN_DELAY_MS (a Kubernetes Service takes a moment to drop a stopping pod)', () => {
  it('on SIGTERM it goes on accepting and serving for the delay, /readyz already 503, then drains and exits 0', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    // no Redis needed: /healthz answers while the process runs
    const api = await startApi(
      'api-shutdown-delay',
      { REDIS_SENTINELS: '127.0.0.1:1', API_TOKENS: 'token', HOST: '127.0.0.1', PORT: String(port), API_SHUTDOWN_DELAY_MS: '3000' },
      async () => (await fetch(`${url}/healthz`).catch(() => undefined))?.status === 200,
    );
    try {
      api.signal('SIGTERM');
      await new Promise((r) => setTimeout(r, 300));
      // a new connection (no keep-alive) is still accepted and served
      const health = await fetch(`${url}/healthz`, { headers: { connection: 'close' } });
      expect(health.status).toBe(200);
      expect((await fetch(`${url}/readyz`, { headers: { connection: 'close' } })).status).toBe(503);
      expect(await api.exited).toBe(0);
      await expect(fetch(`${url}/healthz`)).rejects.toThrow();
      const messages = api.logTail(50).split('\n').filter((l) => l.startsWith('{')).map((l) => (JSON.parse(l) as { msg: string }).msg);
      expect(messages.indexOf('stopping: still serving while the routers take this instance out')).toBeLessThan(messages.indexOf('draining: no new connections, finishing in-flight requests'));
      expect(messages.at(-1)).toBe('stopped');
    } finally {
      await api.stop();
    }
  });
});
