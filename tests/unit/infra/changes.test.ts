/**
 * What a change of settings does to the graph: counts follow the settings, and a change of a rendered
 * file changes the inputs of exactly the containers that read it. Every container input forces a
 * replacement in the Docker provider, so "inputs changed" is "replaced by the next `pulumi up`" (and
 * what `pulumi preview` lists); "inputs identical" is "left alone".
 */
import { parse } from 'yaml';

import { CONTAINER_TYPE, recordProgram, resourcesOfType, type RecordedProgram } from '../../support/pulumi-harness';
import { changedInstances, containerOf, containers, inputsOf, label } from './support';

let base: RecordedProgram;

beforeAll(async () => {
  base = await recordProgram({});
}, 90_000);

describe('counts follow the settings', () => {
  test('3 API instances give 3 API containers, a 3-server upstream in nginx.conf and 3 scrape targets', async () => {
    const program = await recordProgram({ apiInstances: '3' });
    const api = containers(program).filter((c) => label(c, 'evergreen.service') === 'api');
    expect(api.map((c) => inputsOf(c).name).sort()).toEqual(['evergreen-api-0', 'evergreen-api-1', 'evergreen-api-2']);
    const addresses = api.map((c) => inputsOf(c).networksAdvanced[0]?.ipv4Address).sort();

    const nginxConf = inputsOf(containerOf(program, 'gateway')).uploads.find((u) => u.file === '/etc/nginx/nginx.conf')?.content ?? '';
    const upstream = /upstream evergreen_api \{([^}]*)\}/.exec(nginxConf)?.[1] ?? '';
    const servers = [...upstream.matchAll(/^\s*server (\S+):8080\b/gm)].map((m) => m[1]).sort();
    expect(servers).toEqual(addresses);
    expect(servers).toHaveLength(3);

    const prometheusYml = inputsOf(containerOf(program, 'prometheus')).uploads.find((u) => u.file === '/etc/prometheus/prometheus.yml')?.content ?? '';
    const jobs = (parse(prometheusYml) as { scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[] }).scrape_configs;
    const apiTargets = jobs.find((j) => j.job_name === 'api')?.static_configs.flatMap((s) => s.targets).sort();
    expect(apiTargets).toEqual(addresses.map((a) => `${a}:8080`));

    // The two instances that existed are left alone; the gateway and Prometheus are replaced.
    expect(changedInstances(base, program)).toEqual(['api-2', 'gateway', 'prometheus']);
  }, 90_000);

  test('1 replica and 5 Sentinels give 2 Redis nodes, 5 Sentinels and an exporter for each', async () => {
    const program = await recordProgram({ redisReplicas: '1', sentinels: '5', sentinelQuorum: '3', redisMinReplicasToWrite: '1' });
    const count = (service: string) => containers(program).filter((c) => label(c, 'evergreen.service') === service).length;
    expect([count('redis'), count('sentinel'), count('redis-exporter'), count('sentinel-exporter')]).toEqual([2, 5, 2, 5]);
    const sentinelConf = inputsOf(containerOf(program, 'sentinel-4')).uploads.find((u) => u.file.endsWith('/sentinel.conf'))?.content ?? '';
    expect(sentinelConf).toContain('sentinel monitor evergreen 172.20.0.60 6379 3');
    expect(resourcesOfType(program, CONTAINER_TYPE)).toHaveLength(1 + 2 + 2 + 5 + 2 + 5 + 1 + 3);
  }, 90_000);
});

describe('a changed setting replaces exactly the containers that read it', () => {
  test('the same settings twice give identical inputs everywhere: an up without changes replaces nothing', async () => {
    const again = await recordProgram({});
    expect(changedInstances(base, again)).toEqual([]);
    expect(again.resources.map((r) => [r.urn, r.inputs])).toEqual(base.resources.map((r) => [r.urn, r.inputs]));
  }, 90_000);

  test.each([
    ['gatewayRateLimit', '50r/s', ['gateway']],
    ['sentinelDownAfterMs', '8000', ['sentinel-0', 'sentinel-1', 'sentinel-2']],
    ['redisAppendfsync', 'always', ['redis-0', 'redis-1', 'redis-2']],
    ['apiLogLevel', 'debug', ['api-0', 'api-1']],
    ['alertWebhookUrl', 'http://hooks.example/alerts', ['alertmanager']],
    ['prometheusRetentionTime', '30d', ['prometheus']],
  ])('%s = %s changes %j only', async (key, value, expected) => {
    const changed = await recordProgram({ [key]: value });
    expect(changedInstances(base, changed)).toEqual(expected);
    // Networks, volumes and images are untouched: data survives, nothing is pulled again.
    const others = (p: RecordedProgram) => p.resources.filter((r) => r.type !== CONTAINER_TYPE && r.custom).map((r) => [r.urn, r.inputs]);
    expect(others(changed)).toEqual(others(base));
  }, 90_000);

  test('a changed file shows in the config-hash label, which names the reason in `pulumi preview`', async () => {
    const changed = await recordProgram({ sentinelDownAfterMs: '8000', prometheusRetentionTime: '30d' });
    const hash = (p: RecordedProgram, instance: string) => label(containerOf(p, instance), 'evergreen.config-hash');
    expect(hash(changed, 'sentinel-0')).not.toBe(hash(base, 'sentinel-0'));
    expect(hash(changed, 'redis-0')).toBe(hash(base, 'redis-0'));
    // A command-line flag is no file: the command differs, the hash does not.
    expect(hash(changed, 'prometheus')).toBe(hash(base, 'prometheus'));
    expect(inputsOf(containerOf(changed, 'prometheus')).command).toContain('--storage.tsdb.retention.time=30d');
  }, 90_000);
});
