/**
 * `npm run synth` as a user runs it (tsx infra/k8s/main.ts): writes one file per concern that parses as
 * YAML documents; a bad settings file stops it with one clear message and leaves the output untouched.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';

jest.setTimeout(60_000);

const root = join(__dirname, '..', '..', '..');
let dir: string;

function synth(...args: string[]) {
  return spawnSync(join(root, 'node_modules', '.bin', 'tsx'), [join(root, 'infra', 'k8s', 'main.ts'), ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: 50_000,
  });
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'evergreen-synth-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('writes the manifests, one YAML file per concern, and replaces those of a previous run', () => {
  const out = join(dir, 'dist');
  mkdirSync(out);
  writeFileSync(join(out, 'stale.k8s.yaml'), 'kind: Leftover\n'); // a manifest of an earlier run
  writeFileSync(join(out, 'README.txt'), 'not a manifest\n');
  writeFileSync(join(dir, 'stack.yaml'), 'redis:\n  replicas: 3\n');
  writeFileSync(join(dir, 'manifests.yaml'), 'storage:\n  redis: 3Gi\n');
  const run = synth('--stack', join(dir, 'stack.yaml'), '--manifests', join(dir, 'manifests.yaml'), '--out', out);
  expect(run.stderr).toBe('');
  expect(run.status).toBe(0);
  expect(run.stdout).toMatch(/wrote \d+ objects in 6 files/);
  expect(readdirSync(out).sort()).toEqual([
    '00-namespace.k8s.yaml',
    '10-network-policies.k8s.yaml',
    '20-redis.k8s.yaml',
    '30-api.k8s.yaml',
    '40-gateway.k8s.yaml',
    '50-monitoring.k8s.yaml',
    'README.txt',
  ]);
  const redis = parseAllDocuments(readFileSync(join(out, '20-redis.k8s.yaml'), 'utf8')).map((d) => d.toJS() as { kind: string; metadata: { name: string }; spec?: Record<string, unknown> });
  const statefulSet = redis.find((o) => o.kind === 'StatefulSet' && o.metadata.name === 'redis');
  expect(statefulSet?.spec).toMatchObject({ replicas: 4, volumeClaimTemplates: [{ spec: { resources: { requests: { storage: '3Gi' } } } }] });
});

it('refuses bad settings with one message naming every problem, and changes nothing', () => {
  const out = join(dir, 'dist'); // the output of the run above
  const before = readdirSync(out).map((f) => readFileSync(join(out, f), 'utf8'));
  writeFileSync(join(dir, 'bad-stack.yaml'), 'sentinel:\n  count: 2\n');
  writeFileSync(join(dir, 'bad-manifests.yaml'), 'gatewayServiceType: Public\nstorage:\n  redis: lots\n');
  const badStack = synth('--stack', join(dir, 'bad-stack.yaml'), '--out', out);
  expect(badStack.status).toBe(1);
  expect(badStack.stderr).toMatch(/^npm run synth: invalid stack settings/);
  expect(badStack.stderr).toMatch(/sentinel\.count/);
  const badManifests = synth('--manifests', join(dir, 'bad-manifests.yaml'), '--out', out);
  expect(badManifests.status).toBe(1);
  expect(badManifests.stderr).toMatch(/gatewayServiceType/);
  expect(badManifests.stderr).toMatch(/storage\.redis: must be a size/);
  expect(readdirSync(out).map((f) => readFileSync(join(out, f), 'utf8'))).toEqual(before);
});

it('answers --help with its usage, and a bad argument with the usage and exit code 2 (as npm run render)', () => {
  const help = synth('--help');
  expect(help.status).toBe(0);
  expect(help.stdout).toMatch(/^usage: npm run synth -- \[--stack/);
  for (const bad of [['--outt', 'x'], ['stray']]) {
    const result = synth(...bad);
    expect({ bad, status: result.status }).toEqual({ bad, status: 2 });
    expect(result.stderr).toMatch(/usage: npm run synth/);
  }
});
