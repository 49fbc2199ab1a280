/**
 * The process launcher against real processes: readiness, logs in errors, stop escalation, process
 * groups, and that nothing survives its parent, however the parent ends.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  freePort,
  isAlive,
  ProcessStartError,
  runningProcesses,
  startProcess,
  stopAll,
} from '../../support/processes';
import { waitFor } from '../../support/wait';

// Bounds for a loaded 2-core machine (a TypeScript fixture takes seconds to start there).
jest.setTimeout(60_000);

const node = process.execPath;
let workDir: string;

beforeAll(() => {
  workDir = mkdtempSync(join(tmpdir(), 'evergreen-processes-test-'));
});
afterAll(() => {
  rmSync(workDir, { recursive: true, force: true });
});

function httpStatus(port: number): Promise<number> {
  return new Promise((resolveStatus, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', timeout: 1_000 }, (res) => {
      res.resume();
      resolveStatus(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

const httpServerScript = `
  const http = require('node:http');
  console.log('starting on ' + process.env.PORT);
  setTimeout(() => http.createServer((q, s) => s.end('ok')).listen(Number(process.env.PORT), '127.0.0.1'), 200);
  process.on('SIGTERM', () => { console.log('got SIGTERM'); process.exit(0); });
`;

describe('startProcess', () => {
  it('resolves once the readiness check passes, logs output to the log file, and stops on SIGTERM', async () => {
    const port = await freePort();
    const logFile = join(workDir, 'http.log');
    const server = await startProcess({
      name: 'http',
      command: node,
      args: ['-e', httpServerScript],
      env: { PORT: String(port) },
      logFile,
      ready: () => httpStatus(port).then((status) => status === 200),
    });
    expect(await httpStatus(port)).toBe(200);
    expect(server.running).toBe(true);
    expect(runningProcesses()).toContain(server);

    await expect(server.stop()).resolves.toBe(0);
    expect(server.running).toBe(false);
    expect(isAlive(server.pid)).toBe(false);
    expect(runningProcesses()).not.toContain(server);
    expect(readFileSync(logFile, 'utf8')).toBe(`starting on ${port}\ngot SIGTERM\n`);
  });

  it('rejects with the last lines of the log when the process exits before it is ready', async () => {
    const start = startProcess({
      name: 'crasher',
      command: 'sh',
      args: ['-c', 'for i in 1 2 3 4 5; do echo "line $i"; done; echo "fatal: bad config" >&2; exit 3'],
      logFile: join(workDir, 'crasher.log'),
      ready: async () => false,
    });
    await expect(start).rejects.toBeInstanceOf(ProcessStartError);
    await expect(start).rejects.toThrow(/crasher: exited with code 3 before it was ready[\s\S]*line 5\nfatal: bad config/);
  });

  it('kills a process that never gets ready and says what it waited for', async () => {
    const logFile = join(workDir, 'never-ready.log');
    const start = startProcess({
      name: 'never-ready',
      command: 'sh',
      args: ['-c', 'echo "listening soon"; exec sleep 300'],
      logFile,
      readyTimeoutMs: 1_500,
      ready: async () => false,
    });
    const error = (await start.catch((e: unknown) => e)) as ProcessStartError;
    expect(error).toBeInstanceOf(ProcessStartError);
    expect(error.message).toMatch(/^never-ready: timed out after 1500 ms waiting for never-ready to be ready/);
    expect(error.pid).toBeGreaterThan(0);
    expect(isAlive(error.pid!)).toBe(false);
    // The shell's line is in the error once it has been written (a loaded machine may be slower than the bound).
    if (readFileSync(logFile, 'utf8') !== '') expect(error.message).toMatch(/listening soon/);
  });

  it('names the program when it cannot be spawned', async () => {
    await expect(startProcess({ name: 'ghost', command: 'no-such-program-evergreen' })).rejects.toThrow(
      /ghost: could not start no-such-program-evergreen: spawn no-such-program-evergreen ENOENT/,
    );
  });

  it('escalates to SIGKILL after the bound, and takes the whole process group down', async () => {
    const logFile = join(workDir, 'stubborn.log');
    const stubborn = await startProcess({
      name: 'stubborn',
      command: 'sh',
      args: ['-c', 'trap "" TERM; sleep 300 & echo "child $!"; while :; do sleep 1; done'],
      logFile,
    });
    const childPid = Number(
      await waitFor(() => /child (\d+)/.exec(stubborn.logTail())?.[1], { what: 'the fork', intervalMs: 20 }),
    );
    expect(isAlive(childPid)).toBe(true);
    await expect(stubborn.stop('SIGTERM', 300)).resolves.toBeNull();
    expect(isAlive(stubborn.pid)).toBe(false);
    await waitFor(() => !isAlive(childPid), { what: `forked sleep ${childPid} to be gone`, timeoutMs: 5_000 });
  });

  it('stops a paused (SIGSTOP) process', async () => {
    const paused = await startProcess({ name: 'paused', command: 'sleep', args: ['300'], logFile: join(workDir, 'paused.log') });
    paused.signal('SIGSTOP');
    await expect(paused.stop('SIGTERM', 5_000)).resolves.toBeNull();
    expect(isAlive(paused.pid)).toBe(false);
  });

  it('stopAll stops every running process', async () => {
    const sleepers = await Promise.all(
      [1, 2, 3].map((i) => startProcess({ name: `sleeper-${i}`, command: 'sleep', args: ['300'] })),
    );
    await stopAll();
    expect(sleepers.map((s) => isAlive(s.pid))).toEqual([false, false, false]);
    expect(runningProcesses()).toEqual([]);
  });
});

describe('freePort', () => {
  it('hands out distinct ports that can be bound on 127.0.0.1', async () => {
    const ports = await Promise.all(Array.from({ length: 8 }, () => freePort()));
    expect(new Set(ports).size).toBe(8);
    for (const port of ports) {
      await new Promise<void>((resolveListen, reject) => {
        const server = createServer();
        server.once('error', reject);
        server.listen(port, '127.0.0.1', () => server.close(() => resolveListen()));
      });
    }
  });
});

describe('nothing outlives the parent', () => {
  const fixture = resolve(__dirname, 'fixtures/launcher-parent.ts');
  const parents: ReturnType<typeof spawn>[] = [];
  afterEach(() => {
    for (const parent of parents.splice(0)) if (parent.exitCode === null && parent.signalCode === null) parent.kill('SIGKILL');
  });

  async function startParent(): Promise<{
    parent: ReturnType<typeof spawn>;
    info: { shellPid: number; sleepPid: number; dir: string };
  }> {
    const parent = spawn(node, ['--import', 'tsx', fixture], { stdio: ['ignore', 'pipe', 'pipe'] });
    parents.push(parent);
    let out = '';
    let err = '';
    parent.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
    parent.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString()));
    const line = await waitFor(() => out.split('\n').find((l) => l.startsWith('{')), {
      what: `the fixture parent to report its children (stderr: ${err})`,
      timeoutMs: 20_000,
      intervalMs: 50,
    });
    return { parent, info: JSON.parse(line) as { shellPid: number; sleepPid: number; dir: string } };
  }

  async function expectCleanedUp(info: { shellPid: number; sleepPid: number; dir: string }): Promise<void> {
    await waitFor(() => !isAlive(info.shellPid) && !isAlive(info.sleepPid) && !existsSync(info.dir), {
      what: `pids ${info.shellPid}, ${info.sleepPid} and ${info.dir} to be gone`,
      timeoutMs: 10_000,
      intervalMs: 50,
    });
  }

  it('kills the children and removes registered directories when the parent is SIGKILLed', async () => {
    const { parent, info } = await startParent();
    expect(isAlive(info.sleepPid)).toBe(true);
    expect(existsSync(info.dir)).toBe(true);
    parent.kill('SIGKILL');
    await expectCleanedUp(info);
  });

  it('stops the children on SIGINT and exits with 130', async () => {
    const { parent, info } = await startParent();
    const exited = new Promise<number | null>((r) => parent.once('exit', (code) => r(code)));
    parent.kill('SIGINT');
    await expect(exited).resolves.toBe(130);
    await expectCleanedUp(info);
  });
});
