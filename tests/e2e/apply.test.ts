/**
 * The applier's pure parts, checked without an engine: the tar archive of a container's uploads (as
 * GNU tar reads it: paths, modes, numeric owners, content) and Go durations of health checks.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { demuxLogs, goDurationNs, uploadsArchive } from './support/apply';

describe('uploadsArchive', () => {
  test('writes each upload at its absolute path with the mode and numeric owner the provider gives it', () => {
    const longDir = `/etc/${'d'.repeat(60)}/${'e'.repeat(60)}`;
    const archive = uploadsArchive([
      { file: '/data/redis.conf', content: 'port 6379\nuser admin on >sécret\n', permissions: '0600', owner: '999', group: '1000' },
      { file: '/etc/nginx/nginx.conf', content: 'worker_processes auto;\n' },
      { file: '/usr/local/bin/start.sh', content: '#!/bin/sh\n', executable: true },
      { file: `${longDir}/deep.bin`, contentBase64: Buffer.from([0, 1, 2, 255]).toString('base64') },
    ]);
    expect(archive.length % 512).toBe(0);

    const listing = execFileSync('tar', ['-tvf', '-', '--numeric-owner'], { input: archive }).toString();
    expect(listing).toMatch(/^-rw------- 999\/1000 +\d+ .* data\/redis\.conf$/m);
    expect(listing).toMatch(/^-rw-r--r-- 0\/0 +\d+ .* etc\/nginx\/nginx\.conf$/m);
    expect(listing).toMatch(/^-rwxr--r-- 0\/0 +\d+ .* usr\/local\/bin\/start\.sh$/m);

    const dir = mkdtempSync(join(tmpdir(), 'evergreen-e2e-tar-'));
    try {
      execFileSync('tar', ['-xf', '-', '-C', dir], { input: archive });
      expect(readFileSync(join(dir, 'data/redis.conf'), 'utf8')).toBe('port 6379\nuser admin on >sécret\n');
      expect([...readFileSync(join(dir, longDir, 'deep.bin'))]).toEqual([0, 1, 2, 255]);
      expect(statSync(join(dir, 'usr/local/bin/start.sh')).mode & 0o777).toBe(0o744);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('refuses what it cannot reproduce instead of dropping it', () => {
    expect(() => uploadsArchive([{ file: '/x', source: '/host/file' }])).toThrow(/source/);
    expect(() => uploadsArchive([{ file: '/x', content: '', owner: 'redis' }])).toThrow(/not numeric/);
  });
});

describe('goDurationNs', () => {
  test.each([
    ['10s', 10e9],
    ['1m30s', 90e9],
    ['500ms', 5e8],
    ['1h', 3600e9],
    ['0s', 0],
  ])('%s', (text, ns) => {
    expect(goDurationNs(text)).toBe(ns);
  });

  test('no duration stays unset, and garbage is refused', () => {
    expect(goDurationNs(undefined)).toBeUndefined();
    expect(() => goDurationNs('10 seconds')).toThrow(/Go duration/);
  });
});

describe('demuxLogs', () => {
  test('joins the payloads of a multiplexed log stream', () => {
    const frame = (stream: number, text: string): Buffer => {
      const payload = Buffer.from(text);
      const header = Buffer.alloc(8);
      header.writeUInt8(stream, 0);
      header.writeUInt32BE(payload.length, 4);
      return Buffer.concat([header, payload]);
    };
    expect(demuxLogs(Buffer.concat([frame(1, 'ready\n'), frame(2, 'warning\n')]))).toBe('ready\nwarning\n');
  });
});
