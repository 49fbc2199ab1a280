/** `npm run render` (scripts/render.ts), run as a user runs it. */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { defineStack, generateSecrets, renderAll } from '../../../config';
import { RenderCommandError, runRender } from '../../../scripts/render';
import { registerTemporaryDir } from '../../support/processes';

/** runRender in this process (the first test runs the real command line once). */
function renderHere(args: string[], env: Record<string, string> = {}) {
  try {
    const result = runRender(args, env);
    return { status: 0, result, message: '' };
  } catch (error) {
    if (!(error instanceof RenderCommandError)) throw error;
    return { status: error.exitCode, result: undefined, message: error.message };
  }
}

jest.setTimeout(60_000);

const ROOT = resolve(__dirname, '../../..');
const TSX = join(ROOT, 'node_modules/.bin/tsx');

function render(args: string[], env: Record<string, string> = {}) {
  const result = spawnSync(TSX, ['scripts/render.ts', ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function listFiles(dir: string, prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listFiles(join(dir, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`],
  );
}

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'evergreen-render-cli-'));
  registerTemporaryDir(work);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

it('writes every rendered file, secrets as marked placeholders in 0600 files', () => {
  const out = join(work, 'defaults');
  const { status, stdout } = render(['--out', out]);
  expect(status).toBe(0);
  const expected = renderAll(defineStack(), generateSecrets('x-'));
  expect(listFiles(out).sort()).toEqual(expected.map((f) => f.path).sort());
  for (const f of expected) {
    const mode = statSync(join(out, f.path)).mode & 0o777;
    expect([f.path, mode]).toEqual([f.path, f.containsSecret ? 0o600 : 0o644]);
  }
  expect(readFileSync(join(out, 'redis/redis-0.conf'), 'utf8')).toMatch(/user api on resetpass >placeholder-\S+ /);
  expect(stdout).toContain('EVERGREEN_REDIS_PASSWORD_API');
});

it('takes secrets from the environment and the stack from a YAML file', () => {
  const out = join(work, 'k8s');
  const stack = join(work, 'stack.yaml');
  writeFileSync(stack, 'api:\n  instances: 3\nsentinel:\n  downAfterMs: 3000\n');
  const password = 'from-the-environment-1234';
  const { status, result } = renderHere(['--out', out, '--stack', stack, '--target', 'kubernetes'], {
    EVERGREEN_REDIS_PASSWORD_API: password,
  });
  expect(status).toBe(0);
  expect(readFileSync(join(out, 'redis/redis-1.conf'), 'utf8')).toContain(`user api on resetpass >${password} `);
  expect(readFileSync(join(out, 'api/api-2.env'), 'utf8')).toContain(`REDIS_PASSWORD=${password}`);
  expect(readFileSync(join(out, 'sentinel/sentinel-0.conf'), 'utf8')).toContain('sentinel down-after-milliseconds evergreen 3000');
  expect(readFileSync(join(out, 'nginx/nginx.conf'), 'utf8')).toContain('server api.evergreen.svc.cluster.local:8080');
  expect(result?.placeholders).not.toContain('EVERGREEN_REDIS_PASSWORD_API');
  expect(result?.placeholders).toContain('EVERGREEN_REDIS_PASSWORD_ADMIN');
});

it('a secret file left readable by others is 0600 again after a re-render; an unwritable --out is one line, not a stack trace', () => {
  const out = join(work, 'again');
  expect(renderHere(['--out', out]).status).toBe(0);
  const secretFile = join(out, 'redis/redis-0.conf');
  chmodSync(secretFile, 0o644);
  expect(renderHere(['--out', out]).status).toBe(0);
  expect(statSync(secretFile).mode & 0o777).toBe(0o600);

  const aFile = join(work, 'a-file');
  writeFileSync(aFile, '');
  const { status, message } = renderHere(['--out', aFile]);
  expect(status).toBe(1);
  expect(message).toMatch(/^cannot write .*a-file\/.*: ENOTDIR/);
});

it('refuses an invalid stack with every problem and writes nothing', () => {
  const out = join(work, 'invalid');
  const stack = join(work, 'bad.json');
  writeFileSync(stack, JSON.stringify({ api: { instances: 0 }, sentinel: { count: 4 } }));
  const { status, message } = renderHere(['--out', out, '--stack', stack]);
  expect(status).toBe(1);
  expect(message).toContain('api.instances: at least 1 API instance is needed');
  expect(message).toContain('sentinel.count: 4 is even');
  expect(existsSync(out)).toBe(false);
});

it('names bad arguments in one line with the usage', () => {
  for (const args of [[], ['--out', join(work, 'x'), '--target', 'swarm'], ['--bogus']]) {
    const { status, message } = renderHere(args);
    expect(status).toBe(2);
    expect(message.trim().split('\n').length).toBeLessThanOrEqual(2);
  }
  const { status, message } = renderHere(['--out', join(work, 'y'), '--stack', join(work, 'missing.yaml')]);
  expect(status).toBe(1);
  expect(message).toMatch(/--stack .*missing\.yaml: cannot read it/);
  expect(existsSync(join(work, 'y'))).toBe(false);
});
