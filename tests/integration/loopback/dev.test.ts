/**
 * `npm run dev` (build/scripts/dev.js, what `npm run dev` runs after building) started as a person
 * would: it serves the API through nginx on the port it was given, prints the token, and on Ctrl-C
 * (SIGINT) stops every process it started and removes its work dir.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repositoryRoot } from '../../support/loopback';
import { freePort, isAlive, startProcess, tailFile } from '../../support/processes';
import { waitFor } from '../../support/wait';
import { processTree } from './proc';

jest.setTimeout(120_000);

const devJs = join(repositoryRoot(), 'build/scripts/dev.js');
let logDir: string;

beforeAll(() => {
  logDir = mkdtempSync(join(tmpdir(), 'evergreen-dev-test-'));
});
afterAll(() => {
  rmSync(logDir, { recursive: true, force: true });
});

function field(log: string, label: string): string {
  const match = new RegExp(`^\\s*${label}:\\s+(.+)$`, 'm').exec(log);
  if (!match?.[1]) throw new Error(`no "${label}:" line in the output of npm run dev:\n${log}`);
  return match[1].trim();
}

describe('npm run dev', () => {
  it('serves through nginx on the given port, and leaves nothing behind on SIGINT', async () => {
    expect(existsSync(devJs)).toBe(true); // `npm run build` first (npm test does)
    const port = await freePort();
    const logFile = join(logDir, 'dev.log');
    const dev = await startProcess({
      name: 'npm-run-dev',
      command: process.execPath,
      args: [devJs, '--port', String(port)],
      cwd: repositoryRoot(),
      logFile,
      readyTimeoutMs: 90_000,
      ready: async () => /Press Ctrl-C to stop everything/.test(tailFile(logFile, 200)),
    });
    const output = dev.logTail(200);
    const gateway = field(output, 'gateway \\(nginx\\)');
    expect(gateway).toBe(`http://127.0.0.1:${port}`);
    const token = field(output, 'API token');
    const workDir = field(output, 'work dir, logs').replace(/ \(logs in .*\)$/, '');
    const pids = field(output, 'processes')
      .split(', ')
      .map((entry) => Number(entry.split(' ')[1]));
    expect(pids).toHaveLength(9); // nginx, 2 API instances, 3 Redis, 3 Sentinels
    const everyPid = pids.flatMap((pid) => processTree(pid));

    const unauthorized = await fetch(`${gateway}/v1/products`);
    expect(unauthorized.status).toBe(401);
    const listed = await fetch(`${gateway}/v1/products`, { headers: { authorization: `Bearer ${token}` } });
    expect(listed.status).toBe(200);
    expect(existsSync(workDir)).toBe(true);

    dev.signal('SIGINT');
    await expect(dev.exited).resolves.toBe(130);
    await waitFor(() => everyPid.every((pid) => !isAlive(pid)), {
      what: `every process of npm run dev (${everyPid.join(', ')}) to be gone`,
      timeoutMs: 10_000,
    });
    expect(existsSync(workDir)).toBe(false);
    await expect(fetch(`${gateway}/v1/products`)).rejects.toThrow();
  });

  it('refuses a bad port with one clear line, starting nothing', async () => {
    const dev = await startProcess({
      name: 'npm-run-dev-bad-port',
      command: process.execPath,
      args: [devJs, '--port', 'eighty'],
      cwd: repositoryRoot(),
    });
    await expect(dev.exited).resolves.toBe(2);
    expect(dev.logTail()).toMatch(/^--port must be an integer 1\.\.65535, got "eighty"$/m);
  });
});
