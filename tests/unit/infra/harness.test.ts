/**
 * The recording harness itself (tests/support/pulumi-harness.ts): how it unwraps Pulumi's secrets,
 * and that the passwords it generates are stable per seed (so two recordings differ only where the
 * settings do) and different across seeds.
 */
import * as pulumi from '@pulumi/pulumi';

import { deterministicPassword, recordProgram, unwrapSecrets } from '../../support/pulumi-harness';
import { recordedSecrets } from './support';

const secret = (value: unknown) => ({ [pulumi.runtime.specialSigKey]: pulumi.runtime.specialSecretSig, value });

test('unwrapSecrets returns plain values and the paths that were secret', () => {
  const [plain, paths] = unwrapSecrets({
    name: 'x',
    envs: secret(['A=1', 'B=2']),
    healthcheck: { tests: ['CMD', 'ping'], auth: secret('pw') },
    uploads: [{ file: '/a', content: secret('s') }, { file: '/b', content: 'plain' }],
  });
  expect(plain).toEqual({
    name: 'x',
    envs: ['A=1', 'B=2'],
    healthcheck: { tests: ['CMD', 'ping'], auth: 'pw' },
    uploads: [{ file: '/a', content: 's' }, { file: '/b', content: 'plain' }],
  });
  expect(paths).toEqual(['envs', 'healthcheck.auth', 'uploads[0].content']);
});

test('generated passwords are alphanumeric, of the asked length, stable per seed and name', () => {
  const a = deterministicPassword('seed', 'secrets-redisApiPassword', 32);
  expect(a).toMatch(/^[A-Za-z0-9]{32}$/);
  expect(deterministicPassword('seed', 'secrets-redisApiPassword', 32)).toBe(a);
  expect(deterministicPassword('other', 'secrets-redisApiPassword', 32)).not.toBe(a);
  expect(deterministicPassword('seed', 'secrets-redisAdminPassword', 32)).not.toBe(a);
  expect(deterministicPassword('seed', 'x', 100)).toHaveLength(100);
});

test('a recording with another seed has other secrets (e.g. for a second stack on one engine)', async () => {
  const one = recordedSecrets(await recordProgram({}, { seed: 'one' }));
  const two = recordedSecrets(await recordProgram({}, { seed: 'two' }));
  expect(one.redisPasswords.admin).not.toBe(two.redisPasswords.admin);
  expect(one.apiTokens).not.toEqual(two.apiTokens);
}, 90_000);
