/**
 * For every alert of config/render/rules.ts, one situation where it must fire and one close to it
 * where it must not, written as `promtool test rules` input series (the default stack: 2 API
 * instances, 2 Redis replicas, 3 Sentinels with quorum 2). `promtoolRuleTests` turns the table into
 * the test file promtool reads.
 *
 * Series notation is promtool's: `a+bxN` is a, a+b, … (N+1 samples); `_` is a missing sample;
 * `stale` ends a series at once (as a target that disappears). Samples are 1 minute apart and rules
 * are evaluated every minute.
 */
import type { AlertRule } from '../../../../config/render/rules';

export interface InputSeries {
  readonly series: string;
  readonly values: string;
}

export interface FiringCase {
  readonly input: readonly InputSeries[];
  /** When to look, from the start of the series. */
  readonly at: string;
  /** Labels of the expected alert besides alertname, severity and service (which come from the rule). */
  readonly labels: Readonly<Record<string, string>>;
  /** The expected summary, templates expanded: checks the template as well. */
  readonly summary: string;
}

export interface SilentCase {
  /** Why it must not fire here. */
  readonly why: string;
  readonly input: readonly InputSeries[];
  readonly at: string;
}

export interface AlertCases {
  readonly fires: FiringCase;
  readonly silent: SilentCase;
  /** Further situations where it must fire, when the expression covers more than one. */
  readonly alsoFires?: readonly (FiringCase & { readonly why: string })[];
}

const api0 = 'job="api",instance="api-0"';
const api1 = 'job="api",instance="api-1"';

function histogram(route: string, buckets: Readonly<Record<string, string>>): InputSeries[] {
  const labels = `job="api",instance="api-0",method="GET",route="${route}",status="200"`;
  const count = buckets['+Inf'] as string;
  return [
    ...Object.entries(buckets).map(([le, values]) => ({
      series: `http_request_duration_seconds_bucket{${labels},le="${le}"}`,
      values,
    })),
    { series: `http_request_duration_seconds_count{${labels}}`, values: count },
  ];
}

export const ALERT_CASES: Readonly<Record<string, AlertCases>> = {
  ApiInstanceDown: {
    fires: {
      input: [
        { series: `up{${api0}}`, values: '1 1 0x5' },
        { series: `up{${api1}}`, values: '1x7' },
      ],
      at: '4m',
      labels: { job: 'api', instance: 'api-0' },
      summary: 'API instance api-0 is down',
    },
    silent: {
      why: 'an instance that flaps is never down for a whole minute',
      input: [{ series: `up{${api0}}`, values: '1 0 1 0 1 0 1' }],
      at: '6m',
    },
  },
  ApiAllInstancesDown: {
    fires: {
      input: [
        { series: `up{${api0}}`, values: '1 0x5' },
        { series: `up{${api1}}`, values: '1 0x5' },
      ],
      at: '3m',
      labels: { job: 'api' },
      summary: 'Every API instance is down',
    },
    alsoFires: [
      {
        why: 'every target is gone (Kubernetes: no API pod left in DNS)',
        input: [
          { series: `up{${api0}}`, values: '1 stale' },
          { series: `up{${api1}}`, values: '1 stale' },
        ],
        at: '4m',
        labels: { job: 'api' },
        summary: 'Every API instance is down',
      },
    ],
    silent: {
      why: 'one instance is still up',
      input: [
        { series: `up{${api0}}`, values: '1 0x5' },
        { series: `up{${api1}}`, values: '1x6' },
      ],
      at: '5m',
    },
  },
  ApiRedisNotWritable: {
    fires: {
      input: [{ series: `evergreen_redis_master_writable{${api1}}`, values: '1 0x5' }],
      at: '3m',
      labels: { job: 'api', instance: 'api-1' },
      summary: 'API instance api-1 cannot write to the Redis master',
    },
    silent: {
      why: 'a failover shorter than a minute',
      input: [{ series: `evergreen_redis_master_writable{${api1}}`, values: '1 1 0 1 1 1' }],
      at: '5m',
    },
  },
  ApiHighErrorRatio: {
    fires: {
      input: [
        { series: `http_requests_total{${api0},method="GET",route="/v1/products",status="200"}`, values: '0+90x20' },
        { series: `http_requests_total{${api0},method="GET",route="/v1/products",status="503"}`, values: '0+10x20' },
        // probes and scrapes, many more than the store's own requests: they must not dilute the ratio
        { series: `http_requests_total{${api0},method="GET",route="/healthz",status="200"}`, values: '0+600x20' },
        { series: `http_requests_total{${api0},method="GET",route="/metrics",status="200"}`, values: '0+300x20' },
      ],
      at: '15m',
      labels: {},
      summary: 'API answers 10% of requests with a 5xx',
    },
    silent: {
      why: '4% of responses are 5xx, under the 5% threshold',
      input: [
        { series: `http_requests_total{${api0},method="GET",route="/v1/products",status="200"}`, values: '0+96x20' },
        { series: `http_requests_total{${api0},method="GET",route="/v1/products",status="500"}`, values: '0+4x20' },
      ],
      at: '15m',
    },
  },
  ApiHighLatencyP99: {
    fires: {
      // 60 requests a minute, 50 of them between 1 s and 2.5 s.
      input: histogram('/v1/products', {
        '0.1': '0+10x30',
        '0.5': '0+10x30',
        '1': '0+10x30',
        '2.5': '0+60x30',
        '+Inf': '0+60x30',
      }),
      at: '20m',
      labels: { route: '/v1/products' },
      summary: 'p99 latency of /v1/products is 2.482s',
    },
    silent: {
      why: 'the route is slow but nearly idle (one request a minute): too few requests for a p99',
      input: histogram('/v1/products', { '0.1': '0x30', '0.5': '0x30', '1': '0x30', '2.5': '0+1x30', '+Inf': '0+1x30' }),
      at: '20m',
    },
  },
  RedisDown: {
    fires: {
      input: [{ series: 'redis_up{job="redis",instance="redis-1"}', values: '1 0x5' }],
      at: '3m',
      labels: { job: 'redis', instance: 'redis-1' },
      summary: 'Redis node redis-1 is down',
    },
    silent: {
      why: 'a restart shorter than a minute',
      input: [{ series: 'redis_up{job="redis",instance="redis-1"}', values: '1 1 0 1 1' }],
      at: '4m',
    },
  },
  RedisNoMaster: {
    fires: {
      input: [
        { series: 'redis_instance_info{job="redis",instance="redis-0",role="master"}', values: '1 1 stale' },
        { series: 'redis_instance_info{job="redis",instance="redis-1",role="slave"}', values: '1x6' },
      ],
      at: '5m',
      labels: { job: 'redis', role: 'master' },
      summary: 'No Redis node is master',
    },
    silent: {
      why: 'Sentinel promotes redis-1 within a minute of losing redis-0',
      input: [
        { series: 'redis_instance_info{job="redis",instance="redis-0",role="master"}', values: '1 1 stale' },
        { series: 'redis_instance_info{job="redis",instance="redis-1",role="master"}', values: '_ _ _ 1x4' },
      ],
      at: '6m',
    },
  },
  RedisMultipleMasters: {
    fires: {
      input: [
        { series: 'redis_instance_info{job="redis",instance="redis-0",role="master"}', values: '1x5' },
        { series: 'redis_instance_info{job="redis",instance="redis-1",role="master"}', values: '1x5' },
      ],
      at: '3m',
      labels: {},
      summary: '2 Redis nodes report role master',
    },
    silent: {
      why: 'an old master that comes back is turned into a replica within a minute',
      input: [
        { series: 'redis_instance_info{job="redis",instance="redis-0",role="master"}', values: '1x6' },
        { series: 'redis_instance_info{job="redis",instance="redis-1",role="master"}', values: '_ _ 1 stale' },
        { series: 'redis_instance_info{job="redis",instance="redis-1",role="slave"}', values: '_ _ _ 1x3' },
      ],
      at: '5m',
    },
  },
  RedisReplicaMissing: {
    fires: {
      input: [
        { series: 'redis_connected_slaves{job="redis",instance="redis-0"}', values: '2 2 1x5' },
        { series: 'redis_instance_info{job="redis",instance="redis-0",role="master"}', values: '1x7' },
      ],
      at: '5m',
      labels: { job: 'redis', instance: 'redis-0' },
      summary: 'Master redis-0 has 1 of 2 replicas',
    },
    silent: {
      why: 'only the master counts replicas: a replica has none connected to itself',
      input: [
        { series: 'redis_connected_slaves{job="redis",instance="redis-0"}', values: '2x7' },
        { series: 'redis_instance_info{job="redis",instance="redis-0",role="master"}', values: '1x7' },
        { series: 'redis_connected_slaves{job="redis",instance="redis-1"}', values: '0x7' },
        { series: 'redis_instance_info{job="redis",instance="redis-1",role="slave"}', values: '1x7' },
      ],
      at: '6m',
    },
  },
  RedisReplicationBroken: {
    fires: {
      input: [
        {
          series: 'redis_master_link_up{job="redis",instance="redis-2",master_host="172.20.0.60",master_port="6379"}',
          values: '1 0x5',
        },
      ],
      at: '3m',
      labels: { job: 'redis', instance: 'redis-2', master_host: '172.20.0.60', master_port: '6379' },
      summary: 'Replica redis-2 lost its link to the master',
    },
    silent: {
      why: 'a link that drops for less than a minute and reconnects',
      input: [
        {
          series: 'redis_master_link_up{job="redis",instance="redis-2",master_host="172.20.0.60",master_port="6379"}',
          values: '1 0 1x4',
        },
      ],
      at: '5m',
    },
  },
  RedisReplicationLagging: {
    fires: {
      input: [
        {
          series:
            'redis_connected_slave_lag_seconds{job="redis",instance="redis-0",slave_ip="172.20.0.61",slave_port="6379",slave_state="online"}',
          values: '0 30x6',
        },
      ],
      at: '4m',
      labels: { job: 'redis', instance: 'redis-0', slave_ip: '172.20.0.61', slave_port: '6379', slave_state: 'online' },
      summary: 'Replica 172.20.0.61:6379 of redis-0 lags 30s',
    },
    silent: {
      why: 'a lag of 3 s is normal under load',
      input: [
        {
          series:
            'redis_connected_slave_lag_seconds{job="redis",instance="redis-0",slave_ip="172.20.0.61",slave_port="6379",slave_state="online"}',
          values: '0 3x6',
        },
      ],
      at: '6m',
    },
  },
  RedisPersistenceFailing: {
    fires: {
      input: [
        { series: 'redis_rdb_last_bgsave_status{job="redis",instance="redis-0"}', values: '1x6' },
        { series: 'redis_aof_last_write_status{job="redis",instance="redis-0"}', values: '1 0x5' },
        { series: 'redis_aof_last_bgrewrite_status{job="redis",instance="redis-0"}', values: '1x6' },
      ],
      at: '3m',
      labels: { job: 'redis', instance: 'redis-0' },
      summary: 'Redis node redis-0 fails to persist its data',
    },
    alsoFires: [
      {
        why: 'an RDB snapshot failed',
        input: [
          { series: 'redis_rdb_last_bgsave_status{job="redis",instance="redis-1"}', values: '1 0x5' },
          { series: 'redis_aof_last_write_status{job="redis",instance="redis-1"}', values: '1x6' },
          { series: 'redis_aof_last_bgrewrite_status{job="redis",instance="redis-1"}', values: '1x6' },
        ],
        at: '3m',
        labels: { job: 'redis', instance: 'redis-1' },
        summary: 'Redis node redis-1 fails to persist its data',
      },
    ],
    silent: {
      why: 'every snapshot, AOF write and rewrite succeeded',
      input: [
        { series: 'redis_rdb_last_bgsave_status{job="redis",instance="redis-0"}', values: '1x6' },
        { series: 'redis_aof_last_write_status{job="redis",instance="redis-0"}', values: '1x6' },
        { series: 'redis_aof_last_bgrewrite_status{job="redis",instance="redis-0"}', values: '1x6' },
      ],
      at: '5m',
    },
  },
  RedisMemoryNearLimit: {
    fires: {
      input: [
        { series: 'redis_memory_used_bytes{job="redis",instance="redis-0"}', values: '250000000x10' },
        { series: 'redis_memory_max_bytes{job="redis",instance="redis-0"}', values: '268435456x10' },
      ],
      at: '8m',
      labels: { job: 'redis', instance: 'redis-0' },
      summary: 'Redis node redis-0 uses 93.13% of maxmemory',
    },
    silent: {
      why: 'no maxmemory set (0): there is no limit to be near',
      input: [
        { series: 'redis_memory_used_bytes{job="redis",instance="redis-0"}', values: '250000000x10' },
        { series: 'redis_memory_max_bytes{job="redis",instance="redis-0"}', values: '0x10' },
      ],
      at: '8m',
    },
  },
  SentinelDown: {
    fires: {
      input: [{ series: 'redis_up{job="sentinel",instance="sentinel-2"}', values: '1 0x5' }],
      at: '3m',
      labels: { job: 'sentinel', instance: 'sentinel-2' },
      summary: 'Sentinel sentinel-2 is down',
    },
    silent: {
      why: 'a Redis node being down is RedisDown, not SentinelDown',
      input: [
        { series: 'redis_up{job="sentinel",instance="sentinel-2"}', values: '1x5' },
        { series: 'redis_up{job="redis",instance="redis-2"}', values: '1 0x4' },
      ],
      at: '5m',
    },
  },
  SentinelQuorumLost: {
    fires: {
      input: [
        { series: 'redis_up{job="sentinel",instance="sentinel-0"}', values: '1x5' },
        { series: 'redis_up{job="sentinel",instance="sentinel-1"}', values: '1 0x4' },
        { series: 'redis_up{job="sentinel",instance="sentinel-2"}', values: '1 0x4' },
      ],
      at: '3m',
      labels: {},
      summary: '1 Sentinels are up, a failover needs 2',
    },
    silent: {
      why: 'one Sentinel of three is down: the other two still make the quorum',
      input: [
        { series: 'redis_up{job="sentinel",instance="sentinel-0"}', values: '1x5' },
        { series: 'redis_up{job="sentinel",instance="sentinel-1"}', values: '1x5' },
        { series: 'redis_up{job="sentinel",instance="sentinel-2"}', values: '1 0x4' },
      ],
      at: '5m',
    },
  },
  NginxDown: {
    fires: {
      input: [
        { series: 'nginx_up{job="nginx",instance="gateway"}', values: '1 0x5' },
        { series: 'up{job="nginx",instance="gateway"}', values: '1x5' },
      ],
      at: '3m',
      labels: { job: 'nginx', instance: 'gateway' },
      summary: 'nginx gateway is down',
    },
    alsoFires: [
      {
        why: 'every target is gone (Kubernetes: no gateway pod left in DNS)',
        input: [
          { series: 'nginx_up{job="nginx",instance="10.0.0.7:9113"}', values: '1 stale' },
          { series: 'up{job="nginx",instance="10.0.0.7:9113"}', values: '1 stale' },
        ],
        at: '4m',
        labels: { job: 'nginx' },
        summary: 'nginx (every gateway) is down',
      },
    ],
    silent: {
      why: 'a reload that makes one scrape fail',
      input: [
        { series: 'nginx_up{job="nginx",instance="gateway"}', values: '1 1 0 1 1' },
        { series: 'up{job="nginx",instance="gateway"}', values: '1x5' },
      ],
      at: '4m',
    },
  },
  PrometheusTargetDown: {
    fires: {
      input: [{ series: 'up{job="redis",instance="redis-2"}', values: '1 0x8' }],
      at: '7m',
      labels: { job: 'redis', instance: 'redis-2' },
      summary: 'Target redis-2 of job redis is down',
    },
    silent: {
      why: 'a target down for 3 minutes (an exporter restart) is back before the 5 minutes',
      input: [{ series: 'up{job="redis",instance="redis-2"}', values: '1 0 0 0 1 1 1 1' }],
      at: '7m',
    },
  },
  PrometheusRuleEvaluationFailures: {
    fires: {
      input: [
        {
          series:
            'prometheus_rule_evaluation_failures_total{job="prometheus",instance="prometheus",rule_group="/etc/prometheus/alerts.yml;evergreen-api"}',
          values: '0+1x10',
        },
      ],
      at: '8m',
      labels: { job: 'prometheus', instance: 'prometheus', rule_group: '/etc/prometheus/alerts.yml;evergreen-api' },
      summary: 'Prometheus fails to evaluate rules of group /etc/prometheus/alerts.yml;evergreen-api',
    },
    silent: {
      why: 'a single failure long ago',
      input: [
        {
          series:
            'prometheus_rule_evaluation_failures_total{job="prometheus",instance="prometheus",rule_group="/etc/prometheus/alerts.yml;evergreen-api"}',
          values: '0 1x10',
        },
      ],
      at: '10m',
    },
  },
  PrometheusNotificationsFailing: {
    fires: {
      input: [
        {
          series:
            'prometheus_notifications_errors_total{job="prometheus",instance="prometheus",alertmanager="http://172.20.0.151:9093/api/v2/alerts"}',
          values: '0+2x10',
        },
      ],
      at: '8m',
      labels: { job: 'prometheus', instance: 'prometheus', alertmanager: 'http://172.20.0.151:9093/api/v2/alerts' },
      summary: 'Prometheus cannot send alerts to Alertmanager http://172.20.0.151:9093/api/v2/alerts',
    },
    silent: {
      why: 'no errors while sending',
      input: [
        {
          series:
            'prometheus_notifications_errors_total{job="prometheus",instance="prometheus",alertmanager="http://172.20.0.151:9093/api/v2/alerts"}',
          values: '0x10',
        },
      ],
      at: '8m',
    },
  },
};

/** Expands `{{ $labels.name }}` (the only template the rules' descriptions use) with the alert's labels. */
function expandLabels(template: string, labels: Readonly<Record<string, string>>): string {
  return template.replace(/\{\{ \$labels\.(\w+) \}\}/g, (_, name: string) => labels[name] ?? '');
}

/** The promtool rule-test document for these rules: one test group per case. */
export function promtoolRuleTests(rulesFile: string, rules: readonly AlertRule[]): Record<string, unknown> {
  const tests = rules.flatMap((rule) => {
    const cases = ALERT_CASES[rule.alert];
    if (!cases) throw new Error(`no test cases for alert ${rule.alert}`);
    const firing = (name: string, c: FiringCase) => {
      const labels = { ...c.labels, severity: rule.severity, service: rule.service };
      return {
        name,
        interval: '1m',
        input_series: c.input,
        alert_rule_test: [
          {
            eval_time: c.at,
            alertname: rule.alert,
            exp_alerts: [
              {
                exp_labels: labels,
                exp_annotations: { summary: c.summary, description: expandLabels(rule.description, labels) },
              },
            ],
          },
        ],
      };
    };
    return [
      firing(`${rule.alert} fires`, cases.fires),
      ...(cases.alsoFires ?? []).map((c) => firing(`${rule.alert} fires: ${c.why}`, c)),
      {
        name: `${rule.alert} does not fire: ${cases.silent.why}`,
        interval: '1m',
        input_series: cases.silent.input,
        alert_rule_test: [{ eval_time: cases.silent.at, alertname: rule.alert, exp_alerts: [] }],
      },
    ];
  });
  return { rule_files: [rulesFile], evaluation_interval: '1m', tests };
}
