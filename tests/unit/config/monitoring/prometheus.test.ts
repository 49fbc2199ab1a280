import { parse } from 'yaml';
import { defineStack, type StackOverrides, type StackTarget } from '../../../../config';
import {
  ALERT_RULES_FILE,
  KUBERNETES_API_PODS_SERVICE,
  KUBERNETES_GATEWAY_PODS_SERVICE,
  prometheusCommandArgs,
  renderPrometheusConfig,
} from '../../../../config/render/prometheus';

interface StaticConfig {
  targets: string[];
  labels: { instance: string };
}
interface ScrapeConfig {
  job_name: string;
  static_configs?: StaticConfig[];
  dns_sd_configs?: { names: string[]; type: string; port: number }[];
}
interface PrometheusConfig {
  global: { scrape_interval: string; scrape_timeout: string; evaluation_interval: string };
  rule_files: string[];
  alerting: { alertmanagers: { static_configs: { targets: string[] }[] }[] };
  scrape_configs: ScrapeConfig[];
}

function rendered(overrides: StackOverrides = {}, target: StackTarget = 'docker') {
  const spec = defineStack(overrides, target);
  return { spec, config: parse(renderPrometheusConfig(spec)) as PrometheusConfig };
}

function targetsOf(config: PrometheusConfig, job: string): { address: string; instance: string }[] {
  const scrape = config.scrape_configs.find((c) => c.job_name === job);
  if (!scrape?.static_configs) throw new Error(`no static job ${job}`);
  return scrape.static_configs.flatMap((c) => c.targets.map((address) => ({ address, instance: c.labels.instance })));
}

describe('renderPrometheusConfig', () => {
  it('has one job per contract job name, in a stable order', () => {
    const { config } = rendered();
    expect(config.scrape_configs.map((c) => c.job_name)).toEqual([
      'api',
      'nginx',
      'redis',
      'sentinel',
      'alertmanager',
      'prometheus',
    ]);
  });

  it('scrapes each API instance directly, named by instance', () => {
    const { spec, config } = rendered();
    expect(targetsOf(config, 'api')).toEqual([
      { address: '172.20.0.20:8080', instance: 'api-0' },
      { address: '172.20.0.21:8080', instance: 'api-1' },
    ]);
    expect(targetsOf(config, 'api').map((t) => t.address)).toEqual(spec.api.instanceList.map((i) => i.hostPort));
  });

  it('scrapes nginx, every Redis node and every Sentinel through their exporters, labelled with what they export', () => {
    const { spec, config } = rendered();
    expect(targetsOf(config, 'nginx')).toEqual([
      { address: spec.monitoring.nginxExporter.hostPort, instance: 'gateway' },
    ]);
    expect(targetsOf(config, 'redis')).toEqual(
      spec.monitoring.redisExporters.map((e) => ({ address: e.hostPort, instance: e.target.name })),
    );
    expect(targetsOf(config, 'redis').map((t) => t.instance)).toEqual(['redis-0', 'redis-1', 'redis-2']);
    expect(targetsOf(config, 'sentinel').map((t) => t.instance)).toEqual(['sentinel-0', 'sentinel-1', 'sentinel-2']);
    // The exporters' addresses, not the services': a dead Redis still has a target that says redis_up 0.
    expect(targetsOf(config, 'redis').map((t) => t.address)).not.toContain(spec.redis.initialMaster.hostPort);
  });

  it('follows the counts of the spec', () => {
    const { config } = rendered({ api: { instances: 3 }, redis: { replicas: 3 }, sentinel: { count: 5, quorum: 3 } });
    expect(targetsOf(config, 'api')).toHaveLength(3);
    expect(targetsOf(config, 'redis')).toHaveLength(4);
    expect(targetsOf(config, 'sentinel')).toHaveLength(5);
    expect(targetsOf(config, 'nginx')).toHaveLength(1);
  });

  it('scrapes Alertmanager and itself, and sends alerts to Alertmanager', () => {
    const { spec, config } = rendered();
    expect(targetsOf(config, 'alertmanager')).toEqual([{ address: spec.monitoring.alertmanager.hostPort, instance: 'alertmanager' }]);
    expect(targetsOf(config, 'prometheus')).toEqual([{ address: spec.monitoring.prometheus.hostPort, instance: 'prometheus' }]);
    expect(config.alerting.alertmanagers[0]?.static_configs[0]?.targets).toEqual([spec.monitoring.alertmanager.hostPort]);
  });

  it('loads the alert rules from beside itself', () => {
    expect(rendered().config.rule_files).toEqual([ALERT_RULES_FILE]);
  });

  it('takes scrape and evaluation intervals from the model, keeping the timeout within the interval', () => {
    const { config } = rendered({ monitoring: { scrapeInterval: '5s', evaluationInterval: '30s' } });
    expect(config.global).toMatchObject({ scrape_interval: '5s', scrape_timeout: '5s', evaluation_interval: '30s' });
    expect(rendered({ monitoring: { scrapeInterval: '1m' } }).config.global.scrape_timeout).toBe('10s');
    // whole numbers only in a Prometheus duration: half a second is '500ms', not '0.5s'
    expect(rendered({ monitoring: { scrapeInterval: '500ms' } }).config.global.scrape_timeout).toBe('500ms');
    expect(rendered({ monitoring: { scrapeInterval: '1m30s' } }).config.global).toMatchObject({ scrape_interval: '1m30s', scrape_timeout: '10s' });
  });

  it('on loopback, every target is a distinct 127.0.0.1 port', () => {
    const { config } = rendered({}, 'loopback');
    const addresses = config.scrape_configs.flatMap((c) => targetsOf(config, c.job_name).map((t) => t.address));
    expect(addresses.every((a) => a.startsWith('127.0.0.1:'))).toBe(true);
    expect(new Set(addresses).size).toBe(addresses.length);
  });

  it('on Kubernetes, finds the API and gateway pods through their headless Services and the rest by stable names', () => {
    const { spec, config } = rendered({ api: { instances: 3 } }, 'kubernetes');
    const apiJob = config.scrape_configs.find((c) => c.job_name === 'api');
    expect(apiJob?.static_configs).toBeUndefined();
    expect(apiJob?.dns_sd_configs).toEqual([
      expect.objectContaining({
        names: [`${KUBERNETES_API_PODS_SERVICE}.evergreen.svc.cluster.local`],
        type: 'A',
        port: spec.api.port,
      }),
    ]);
    // the gateway pods too (each has its nginx exporter): through the `gateway` Service a scrape would reach one pod
    // at random
    const nginxJob = config.scrape_configs.find((c) => c.job_name === 'nginx');
    expect(nginxJob?.static_configs).toBeUndefined();
    expect(nginxJob?.dns_sd_configs).toEqual([
      expect.objectContaining({
        names: [`${KUBERNETES_GATEWAY_PODS_SERVICE}.evergreen.svc.cluster.local`],
        type: 'A',
        port: spec.monitoring.nginxExporter.port,
      }),
    ]);
    expect(targetsOf(config, 'redis').map((t) => t.address)).toEqual([
      'redis-0.redis.evergreen.svc.cluster.local:9121',
      'redis-1.redis.evergreen.svc.cluster.local:9121',
      'redis-2.redis.evergreen.svc.cluster.local:9121',
    ]);
  });
});

describe('prometheusCommandArgs', () => {
  it('carries the TSDB retention of the model', () => {
    const spec = defineStack({ monitoring: { retentionTime: '30d', retentionSize: '5GB' } });
    const args = prometheusCommandArgs(spec, { configFile: '/etc/prometheus/prometheus.yml', dataDir: '/prometheus' });
    expect(args).toEqual([
      '--config.file=/etc/prometheus/prometheus.yml',
      '--storage.tsdb.path=/prometheus',
      '--storage.tsdb.retention.time=30d',
      '--storage.tsdb.retention.size=5GB',
      '--web.listen-address=0.0.0.0:9090',
    ]);
  });

  it('leaves the size cap out when it is 0 and listens on loopback only for the loopback target', () => {
    const args = prometheusCommandArgs(defineStack({}, 'loopback'), { configFile: 'p.yml', dataDir: 'data' });
    expect(args.some((a) => a.startsWith('--storage.tsdb.retention.size'))).toBe(false);
    expect(args).toContain('--storage.tsdb.retention.time=15d');
    expect(args.find((a) => a.startsWith('--web.listen-address='))).toMatch(/^--web\.listen-address=127\.0\.0\.1:\d+$/);
  });
});
