/** The API process itself: start-up refusal on a bad environment (no Redis needed for that). */
import { join } from 'node:path';
import { startProcess } from '../../support/processes';
import { repositoryRoot } from '../../support/loopback';

jest.setTimeout(60_000);

async function runWithEnv(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const api = await startProcess({
    name: 'api-bad-env',
    command: process.execPath,
    args: [join(repositoryRoot(), 'build/api/src/main.js')],
    cwd: repositoryRoot(),
    inheritEnv: false,
    env,
  });
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
