/**
 * The stack settings: Pulumi.yaml declares exactly what the program reads, settings change the graph,
 * and invalid settings stop the program before it registers anything.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';

import { parse } from 'yaml';

import { DEFAULT_SETTINGS, StackValidationError } from '../../../config';
import { PROJECT_NAME, projectConfigBlock, SETTINGS, settingDefault } from '../../../infra/settings';
import {
  ProgramFailedError,
  RANDOM_PASSWORD_TYPE,
  isSecretInput,
  recordProgram,
  resourcesOfType,
} from '../../support/pulumi-harness';
import { containerOf, containers, inputsOf, label } from './support';

const ROOT = path.resolve(__dirname, '../../..');

describe('Pulumi.yaml', () => {
  const project = parse(readFileSync(path.join(ROOT, 'Pulumi.yaml'), 'utf8')) as Record<string, unknown>;

  test('is the TypeScript program in infra/ on the local file backend', () => {
    expect(project.name).toBe(PROJECT_NAME);
    expect(project.main).toBe('infra/index.ts');
    expect(project.runtime).toMatchObject({ name: 'nodejs', options: { nodeargs: '--import tsx' } });
    expect(project.backend).toEqual({ url: 'file://.' });
  });

  test('declares every setting the program reads, with its type, default and description', () => {
    expect(project.config).toEqual(projectConfigBlock());
    for (const def of SETTINGS) {
      const entry = (project.config as Record<string, { description: string }>)[def.key];
      expect(entry?.description.length).toBeGreaterThan(10);
    }
  });

  test("takes the defaults of model settings from the model, and every model path exists", () => {
    for (const def of SETTINGS.filter((d) => d.model)) {
      let value: unknown = DEFAULT_SETTINGS;
      for (const part of def.model ?? []) value = (value as Record<string, unknown>)[part];
      if (def.key === 'networkName') expect(value).toBeUndefined();
      else expect({ key: def.key, defined: value !== undefined }).toEqual({ key: def.key, defined: true });
    }
    expect(settingDefault(SETTINGS.find((d) => d.key === 'apiInstances')!)).toBe(2);
    expect(settingDefault(SETTINGS.find((d) => d.key === 'redisSavePoints')!)).toBe('3600:1 300:100 60:10000');
  });

  test('Pulumi.dev.yaml sets only declared settings', () => {
    const dev = parse(readFileSync(path.join(ROOT, 'Pulumi.dev.yaml'), 'utf8')) as { config: Record<string, string> };
    const declared = new Set(SETTINGS.map((d) => `${PROJECT_NAME}:${d.key}`));
    for (const key of Object.keys(dev.config)) expect(declared.has(key)).toBe(true);
  });
});

async function failure(config: Record<string, string>, secretKeys: string[] = []): Promise<ProgramFailedError> {
  try {
    await recordProgram(config, { secretKeys });
  } catch (error) {
    if (error instanceof ProgramFailedError) return error;
    throw error;
  }
  throw new Error(`the program accepted ${JSON.stringify(config)}`);
}

describe('invalid settings', () => {
  test.each([
    [{ sentinels: '4' }, /evergreen-stores:sentinels \(sentinel\.count\)/],
    [{ apiInstances: '0' }, /evergreen-stores:apiInstances \(api\.instances\): at least 1 API instance/],
    [{ apiInstances: 'two' }, /evergreen-stores:apiInstances: must be an integer \(got "two"\)/],
    [{ publishGrafana: 'yes' }, /evergreen-stores:publishGrafana: must be true or false/],
    [{ sentinelDownAfterMs: '200' }, /evergreen-stores:sentinelDownAfterMs .*at least 1000 ms/],
    [{ memoryRedisMb: '300' }, /evergreen-stores:memoryRedisMb: must be at least 2 × redisMaxmemory/],
    [{ redisSavePoints: '3600-1' }, /evergreen-stores:redisSavePoints: '3600-1' is not a 'seconds:changes' pair/],
    [{ networkAddresses: '["api-0=10.9.9.9"]' }, /api-0/],
    [{ logMaxSize: 'big' }, /evergreen-stores:logMaxSize/],
    [{ apiInstnces: '3' }, /evergreen-stores:apiInstnces: unknown setting \(did you mean apiInstances\?\)/],
  ])('%j stops the program before it registers anything', async (config, message) => {
    const error = await failure(config);
    expect(error.cause).toBeInstanceOf(StackValidationError);
    expect(error.message).toMatch(message);
    expect(error.resources).toEqual([]);
  }, 90_000);

  test('lists every problem at once', async () => {
    const error = await failure({ sentinelDownAfterMs: '200', apiInstances: '0', logMaxFiles: '0' });
    expect((error.cause as StackValidationError).problems).toEqual(
      expect.arrayContaining([
        expect.stringContaining('evergreen-stores:sentinelDownAfterMs'),
        expect.stringContaining('evergreen-stores:apiInstances'),
        expect.stringContaining('evergreen-stores:logMaxFiles'),
      ]),
    );
  }, 90_000);

  test.each(['http://alerts.example:99999/hook', 'http://a%zz/hook', 'ftp://alerts.example/hook'])(
    'a webhook secret URL Alertmanager could not post to (%s) stops the program before it registers anything',
    async (url) => {
      const error = await failure({ alertWebhookSecretUrl: url }, ['alertWebhookSecretUrl']);
      expect(error.message).toMatch(/evergreen-stores:alertWebhookSecretUrl: must be an http\(s\) URL/);
      expect(error.message).not.toContain(url);
      expect(error.resources).toEqual([]);
    },
    90_000,
  );

  test('a secret set in plain text (kept unencrypted in Pulumi.<stack>.yaml), or a plain setting set as a secret, stops the program', async () => {
    const plain = await failure({ redisAdminPassword: 'Operator-chosen-admin-pw-1' });
    expect(plain.message).toMatch(/evergreen-stores:redisAdminPassword: is a secret but was set in plain text.*pulumi config set --secret redisAdminPassword/);
    expect(plain.message).not.toContain('Operator-chosen-admin-pw-1');
    expect(plain.resources).toEqual([]);
    const tokenUrl = 'https://hooks.example.com/T0KEN';
    const misplaced = await failure({ alertWebhookUrl: tokenUrl }, ['alertWebhookUrl']);
    expect(misplaced.message).toMatch(/evergreen-stores:alertWebhookUrl: was set with --secret.*alertWebhookSecretUrl/);
    expect(misplaced.message).not.toContain('T0KEN');
    expect(misplaced.resources).toEqual([]);
  }, 90_000);

  test('names a bad secret without repeating its value', async () => {
    const error = await failure({ redisApiPassword: 'sh0rt' }, ['redisApiPassword']);
    expect(error.message).toMatch(/evergreen-stores:redisApiPassword: must be 12–256 characters/);
    expect(error.message).not.toContain('sh0rt');
    expect(error.resources).toEqual([]);
  }, 90_000);
});

describe('settings', () => {
  test('a secret set in the config replaces the generated one and stays secret', async () => {
    const admin = 'Operator-chosen-admin-pw-1';
    const program = await recordProgram({ redisAdminPassword: admin }, { secretKeys: ['redisAdminPassword'] });
    const generated = resourcesOfType(program, RANDOM_PASSWORD_TYPE).map((r) => r.name);
    expect(generated).not.toContain('secrets-redisAdminPassword');
    expect(generated).toContain('secrets-redisApiPassword');
    const redis = containerOf(program, 'redis-0');
    const index = inputsOf(redis).uploads.findIndex((u) => u.file.endsWith('/redis.conf'));
    expect(inputsOf(redis).uploads[index]?.content).toContain(`user admin on resetpass >${admin} `);
    expect(isSecretInput(redis, `uploads[${index}].content`)).toBe(true);
  }, 90_000);

  test('Grafana and Prometheus are published on 127.0.0.1 only, and only when configured', async () => {
    const program = await recordProgram({ publishGrafana: 'true', publishPrometheus: 'true' });
    expect(inputsOf(containerOf(program, 'grafana')).ports).toEqual([{ internal: 3000, external: 3000, ip: '127.0.0.1', protocol: 'tcp' }]);
    expect(inputsOf(containerOf(program, 'prometheus')).ports).toEqual([{ internal: 9090, external: 9090, ip: '127.0.0.1', protocol: 'tcp' }]);
    expect(program.outputs.grafanaUrl).toBe('http://127.0.0.1:3000');
    expect(program.outputs.prometheusUrl).toBe('http://127.0.0.1:9090');
    const published = containers(program).filter((c) => inputsOf(c).ports.length > 0).map((c) => label(c, 'evergreen.instance'));
    expect(published.sort()).toEqual(['gateway', 'grafana', 'prometheus']);
  }, 90_000);

  test('the public port and bind address, log rotation, memory limits and images follow the config', async () => {
    const program = await recordProgram({
      publicPort: '9000',
      publicBindAddress: '127.0.0.1',
      logMaxSize: '50m',
      logMaxFiles: '5',
      memoryApiMb: '300',
      imageRedis: 'mirror.example/redis:7.4.2',
      networkAddresses: '["api-0=172.20.0.200"]',
    });
    const gateway = inputsOf(containerOf(program, 'gateway'));
    expect(gateway.ports).toEqual([{ internal: 8080, external: 9000, ip: '127.0.0.1', protocol: 'tcp' }]);
    expect(program.outputs.publicUrl).toBe('http://127.0.0.1:9000');
    for (const c of containers(program)) expect(inputsOf(c).logOpts).toEqual({ 'max-size': '50m', 'max-file': '5' });
    expect(inputsOf(containerOf(program, 'api-1')).memory).toBe(300);
    expect(inputsOf(containerOf(program, 'api-0')).networksAdvanced[0]?.ipv4Address).toBe('172.20.0.200');
    expect(gateway.uploads[0]?.content).toContain('server 172.20.0.200:8080');
    const images = resourcesOfType(program, 'docker:index/remoteImage:RemoteImage').map((r) => r.inputs.name);
    expect(images).toContain('mirror.example/redis:7.4.2');
    expect(images).not.toContain(DEFAULT_SETTINGS.images.redis);
  }, 90_000);

  test('with apiBuild false the API image is used as configured, not built', async () => {
    const program = await recordProgram({ apiBuild: 'false', imageApi: 'registry.example/evergreen-api:1.0.0' });
    const api = resourcesOfType(program, 'docker:index/remoteImage:RemoteImage').find((r) => r.name === 'api-image');
    expect(api?.inputs).toEqual({ name: 'registry.example/evergreen-api:1.0.0', keepLocally: true });
  }, 90_000);
});
