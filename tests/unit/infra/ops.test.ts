/**
 * The pure parts of the operations scripts: what backup/restore read from the rendered config files
 * and from INFO, the AOF manifest a restore writes, and how `npm run up|preview|destroy` drives the CLI.
 * (The scripts themselves run against a real stack in the end-to-end suite.)
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { defineStack, generateSecrets, renderAll } from '../../../config';
import { passphraseFile, pulumiEnvironment, pulumiInvocations } from '../../../infra/ops/pulumi-cli';
import { aofManifest, configFacts, highestAofSeq, parseInfo, timestamp } from '../../../infra/ops/redis-ops';

describe('backup and restore helpers', () => {
  const spec = defineStack({}, 'docker');
  const secrets = generateSecrets('test-');
  const files = renderAll(spec, secrets);
  const content = (p: string) => files.find((f) => f.path === p)?.content ?? '';

  test('read the port and the admin password from a rendered redis.conf', () => {
    expect(configFacts(content('redis/redis-1.conf'))).toEqual({
      port: 6379,
      adminPassword: secrets.redisPasswords.admin,
      masterName: undefined,
    });
  });

  test('read the port, the admin password and the master group from a rendered sentinel.conf', () => {
    expect(configFacts(content('sentinel/sentinel-2.conf'))).toEqual({
      port: 26379,
      adminPassword: secrets.redisPasswords.admin,
      masterName: 'evergreen',
    });
  });

  test('parse INFO fields, skipping section headers', () => {
    const info = parseInfo('# Persistence\r\nloading:0\r\nrdb_saves:3\r\nrdb_last_bgsave_status:ok\r\n\r\n# Other\r\nx:a:b\r\n');
    expect(info).toEqual({ loading: '0', rdb_saves: '3', rdb_last_bgsave_status: 'ok', x: 'a:b' });
  });

  test('write an AOF manifest whose only base is the snapshot, above every existing sequence number', () => {
    const existing = [
      'appendonlydir/',
      'appendonlydir/appendonly.aof.manifest',
      'appendonlydir/appendonly.aof.3.base.rdb',
      'appendonlydir/appendonly.aof.17.incr.aof',
      'appendonlydir/appendonly.aof.4.incr.aof',
      'appendonlydir/other.aof.99.incr.aof',
    ];
    expect(highestAofSeq(existing, 'appendonly.aof')).toBe(17);
    expect(highestAofSeq([], 'appendonly.aof')).toBe(0);
    expect(aofManifest('appendonly.aof', 18)).toEqual({
      base: 'appendonly.aof.18.base.rdb',
      incr: 'appendonly.aof.18.incr.aof',
      manifest: 'file appendonly.aof.18.base.rdb seq 18 type b\nfile appendonly.aof.18.incr.aof seq 18 type i\n',
    });
  });

  test('name backups with a sortable UTC time', () => {
    expect(timestamp(new Date('2026-11-25T19:13:05.123Z'))).toBe('20261125T191305Z');
  });
});

describe('npm run up|preview|destroy', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(path.join(tmpdir(), 'evergreen-pulumi-cli-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  test('uses the local file backend of the checkout and creates the dev passphrase once, readable by its owner only', () => {
    const first = pulumiEnvironment(root, {});
    expect(first.env).toEqual({ PULUMI_BACKEND_URL: `file://${root}`, PULUMI_CONFIG_PASSPHRASE_FILE: passphraseFile(root) });
    expect(first.notes).toHaveLength(1);
    expect(statSync(passphraseFile(root)).mode & 0o777).toBe(0o600);
    const passphrase = readFileSync(passphraseFile(root), 'utf8');
    expect(passphrase.trim().length).toBeGreaterThanOrEqual(40);

    const second = pulumiEnvironment(root, {});
    expect(second.notes).toEqual([]);
    expect(readFileSync(passphraseFile(root), 'utf8')).toBe(passphrase);
  });

  test("keeps the caller's backend and passphrase", () => {
    const { env, notes } = pulumiEnvironment(root, { PULUMI_BACKEND_URL: 'file:///elsewhere', PULUMI_CONFIG_PASSPHRASE: '' });
    expect(env).toEqual({});
    expect(notes).toEqual([]);
  });

  test('selects (creating) the dev stack with passphrase secrets, then runs the command on it', () => {
    expect(pulumiInvocations('preview', ['--diff'])).toEqual([
      ['stack', 'select', 'dev', '--create', '--secrets-provider', 'passphrase', '--non-interactive'],
      ['preview', '--stack', 'dev', '--diff'],
    ]);
  });

  test('npm run pulumi: any command line, given whole, on the selected dev stack; none at all is an error', () => {
    expect(pulumiInvocations('cli', ['stack', 'output', 'apiToken', '--show-secrets'])).toEqual([
      ['stack', 'select', 'dev', '--create', '--secrets-provider', 'passphrase', '--non-interactive'],
      ['stack', 'output', 'apiToken', '--show-secrets'],
    ]);
    expect(() => pulumiInvocations('cli', [])).toThrow(/no arguments given/);
  });
});
