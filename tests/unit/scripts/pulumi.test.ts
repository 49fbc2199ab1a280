/**
 * scripts/pulumi.ts as a process, with a stand-in `pulumi` on PATH (the real CLI cannot be installed here): what
 * it runs, in which order, and that `npm run -s pulumi -- stack output …` prints only the command's own output.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(__dirname, '../../..');
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'evergreen-pulumi-stand-in-'));
  // logs every invocation; `stack select` chatters on stdout as the CLI does when it creates a stack
  writeFileSync(
    join(dir, 'pulumi'),
    `#!/bin/sh
echo "$*" >> "${dir}/calls"
case "$1 $2" in
  "version ") echo v3.200.0 ;;
  "stack select") echo "Created stack 'dev'" ;;
  "stack output") echo "http://127.0.0.1:8080" ;;
esac
`,
  );
  chmodSync(join(dir, 'pulumi'), 0o755);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** `npm run -s <script> -- <args>` from the repository root, the stand-in first on PATH. */
function npmRun(script: string, args: readonly string[]) {
  rmSync(join(dir, 'calls'), { force: true });
  const result = spawnSync('npm', ['run', '-s', script, '--', ...args], {
    cwd: root,
    encoding: 'utf8',
    // the caller's backend and passphrase win (pulumi-cli.ts): nothing is created in the checkout
    env: { ...process.env, PATH: `${dir}:${process.env.PATH ?? ''}`, PULUMI_BACKEND_URL: `file://${dir}`, PULUMI_CONFIG_PASSPHRASE: 'test' },
    timeout: 30_000,
  });
  let calls: string[] = [];
  try {
    calls = readFileSync(join(dir, 'calls'), 'utf8').trim().split('\n');
  } catch {
    // no call was made
  }
  return { ...result, calls };
}

describe('npm run pulumi -- <args>', () => {
  it('runs the command line given, whole, after selecting the dev stack; stdout is only its output', () => {
    const r = npmRun('pulumi', ['stack', 'output', 'publicUrl']);
    expect(r.status).toBe(0);
    expect(r.calls).toEqual(['version', 'stack select dev --create --secrets-provider passphrase --non-interactive', 'stack output publicUrl']);
    expect(r.stdout).toBe('http://127.0.0.1:8080\n');
    expect(r.stderr).toContain("Created stack 'dev'");
  });

  it('without arguments: one line of usage, and no Pulumi command run', () => {
    const r = npmRun('pulumi', []);
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe('npm run pulumi -- <pulumi arguments>: no arguments given');
    expect(r.calls).toEqual([]);
  });
});
