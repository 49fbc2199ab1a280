/**
 * Prometheus alert rules (`alerts.yml`, loaded by prometheus.yml from beside it).
 *
 * Every alert carries a `severity` label (`critical`: users are or will soon be affected, act now;
 * `warning`: redundancy is lost or something degrades, act in working hours) and a `service` label
 * that Alertmanager groups by, plus `summary` and `description` annotations. docs/monitoring.md
 * says what to do when each one fires; the integration tests hold, for every alert, one
 * `promtool test rules` case where it fires and one where it must not.
 */
import { stringify } from 'yaml';
import type { StackSpec } from '../model';
import { JOBS } from './monitoring-model';

/** Route labels of the API's operations endpoints (probes, scrapes, the OpenAPI document), as a regex. */
const OPERATIONS_ROUTES = '/healthz|/readyz|/metrics|/openapi.json';

export type AlertSeverity = 'critical' | 'warning';

export interface AlertRule {
  readonly alert: string;
  /** PromQL; the alert fires for every series it returns for `for` in a row. */
  readonly expr: string;
  /** Prometheus duration the condition must hold before the alert fires. */
  readonly for: string;
  readonly severity: AlertSeverity;
  /** Which part of the stack the alert is about; Alertmanager groups by it. */
  readonly service: 'api' | 'redis' | 'sentinel' | 'nginx' | 'monitoring';
  /** One line, Go template (`{{ $labels.instance }}`, `{{ $value }}`). */
  readonly summary: string;
  /** What it means and where to look first; Go template. */
  readonly description: string;
}

export interface AlertRuleGroup {
  readonly name: string;
  readonly rules: readonly AlertRule[];
}

/**
 * Thresholds of the alerts that have one. Chosen for the seed design (a small store API answering in
 * milliseconds); an operator with other traffic changes them here, the docs and the rule tests follow.
 */
export const ALERT_THRESHOLDS = {
  /** Share of API responses that are 5xx, over 5 minutes, above which ApiHighErrorRatio fires. */
  errorRatio: 0.05,
  /** p99 request duration per route, in seconds, above which ApiHighLatencyP99 fires. */
  p99LatencySeconds: 1,
  /** Requests per second a route must serve for its p99 to count: one slow request on an idle route is noise. */
  latencyMinRequestsPerSecond: 0.1,
  /**
   * Share of `maxmemory` in use above which RedisMemoryNearLimit fires. With the `noeviction` policy a
   * full Redis refuses writes, so the warning must come while there is room to act.
   */
  memoryUsedRatio: 0.9,
} as const;

const { api, redis, sentinel, nginx } = JOBS;

/** The alert rules for a stack, grouped by the part of the stack they watch. */
export function alertRuleGroups(spec: StackSpec): AlertRuleGroup[] {
  const t = ALERT_THRESHOLDS;
  const replicas = spec.redis.replicas;
  // A failover needs `quorum` Sentinels to agree the master is down, and then a majority of all
  // Sentinels to elect the one that performs it: whichever is larger must be up.
  const sentinelsNeeded = Math.max(spec.sentinel.quorum, Math.floor(spec.sentinel.count / 2) + 1);
  // Beyond this lag a replica no longer counts for min-replicas-to-write: the master may refuse writes.
  const maxLag = spec.redis.minReplicasMaxLagSeconds;
  return [
    {
      name: 'evergreen-api',
      rules: [
        {
          alert: 'ApiInstanceDown',
          expr: `up{job="${api}"} == 0`,
          for: '1m',
          severity: 'warning',
          service: 'api',
          summary: 'API instance {{ $labels.instance }} is down',
          description:
            'Prometheus cannot scrape {{ $labels.instance }} for 1 minute. nginx sends its traffic to the other instances; capacity and redundancy are reduced.',
        },
        {
          alert: 'ApiAllInstancesDown',
          // absent(): on Kubernetes the targets come from DNS, and pods that are gone leave no `up` at all.
          expr: `sum by (job) (up{job="${api}"}) == 0 or absent(up{job="${api}"})`,
          for: '1m',
          severity: 'critical',
          service: 'api',
          summary: 'Every API instance is down',
          description: 'No API instance has answered its /metrics (or none is known) for 1 minute: the store is down for every client.',
        },
        {
          alert: 'ApiRedisNotWritable',
          expr: `evergreen_redis_master_writable{job="${api}"} == 0`,
          for: '1m',
          severity: 'critical',
          service: 'api',
          summary: 'API instance {{ $labels.instance }} cannot write to the Redis master',
          description:
            '{{ $labels.instance }} has had no writable Redis master for 1 minute (its /readyz answers 503): writes and purchases fail. Check the Redis and Sentinel alerts.',
        },
        {
          alert: 'ApiHighErrorRatio',
          // the store's own requests only: probes and scrapes (always 200, several a second) would dilute a quiet
          // store's failures below the threshold
          expr:
            `sum(rate(http_requests_total{job="${api}",route!~"${OPERATIONS_ROUTES}",status=~"5.."}[5m]))` +
            ` / sum(rate(http_requests_total{job="${api}",route!~"${OPERATIONS_ROUTES}"}[5m])) > ${t.errorRatio}`,
          for: '5m',
          severity: 'critical',
          service: 'api',
          summary: 'API answers {{ $value | humanizePercentage }} of requests with a 5xx',
          description: `More than ${t.errorRatio * 100}% of API responses have been server errors for 5 minutes. No client input may cause a 5xx: look at the API logs (level error) and at Redis.`,
        },
        {
          alert: 'ApiHighLatencyP99',
          expr:
            `histogram_quantile(0.99, sum by (route, le) (rate(http_request_duration_seconds_bucket{job="${api}"}[5m]))) > ${t.p99LatencySeconds}` +
            ` and on (route) sum by (route) (rate(http_request_duration_seconds_count{job="${api}"}[5m])) > ${t.latencyMinRequestsPerSecond}`,
          for: '10m',
          severity: 'warning',
          service: 'api',
          summary: 'p99 latency of {{ $labels.route }} is {{ $value | humanizeDuration }}',
          description: `The 99th percentile of request duration on {{ $labels.route }} has been above ${t.p99LatencySeconds}s for 10 minutes.`,
        },
      ],
    },
    {
      name: 'evergreen-redis',
      rules: [
        {
          alert: 'RedisDown',
          expr: `redis_up{job="${redis}"} == 0`,
          for: '1m',
          severity: 'critical',
          service: 'redis',
          summary: 'Redis node {{ $labels.instance }} is down',
          description:
            'The redis exporter of {{ $labels.instance }} cannot reach its Redis for 1 minute. If it was the master, Sentinel should promote a replica; see RedisNoMaster.',
        },
        {
          alert: 'RedisNoMaster',
          expr: `absent(redis_instance_info{job="${redis}",role="master"})`,
          for: '1m',
          severity: 'critical',
          service: 'redis',
          summary: 'No Redis node is master',
          description:
            'For 1 minute no Redis node has reported role master: every write fails. Sentinel has not (yet) promoted a replica; check the Sentinel alerts and the sentinel logs.',
        },
        {
          alert: 'RedisMultipleMasters',
          expr: `count(redis_instance_info{job="${redis}",role="master"}) > 1`,
          for: '1m',
          severity: 'critical',
          service: 'redis',
          summary: '{{ $value }} Redis nodes report role master',
          description:
            'More than one Redis node has been master for 1 minute (split brain): writes may land on a master that Sentinel no longer points at and be lost.',
        },
        {
          alert: 'RedisReplicaMissing',
          expr:
            `(redis_connected_slaves{job="${redis}"} and on (instance) redis_instance_info{job="${redis}",role="master"})` +
            ` < ${replicas}`,
          for: '2m',
          severity: 'warning',
          service: 'redis',
          summary: 'Master {{ $labels.instance }} has {{ $value }} of ' + `${replicas} replicas`,
          description: `The master {{ $labels.instance }} has had fewer than the ${replicas} configured replicas connected for 2 minutes: fewer copies of the data, fewer failover candidates, and writes that need a replica acknowledgement may fail.`,
        },
        {
          alert: 'RedisReplicationBroken',
          expr: `redis_master_link_up{job="${redis}"} == 0`,
          for: '1m',
          severity: 'critical',
          service: 'redis',
          summary: 'Replica {{ $labels.instance }} lost its link to the master',
          description:
            'Replica {{ $labels.instance }} has not been connected to its master {{ $labels.master_host }}:{{ $labels.master_port }} for 1 minute: it serves stale reads and is no failover candidate.',
        },
        {
          alert: 'RedisReplicationLagging',
          expr: `redis_connected_slave_lag_seconds{job="${redis}"} > ${maxLag}`,
          for: '2m',
          severity: 'warning',
          service: 'redis',
          summary: 'Replica {{ $labels.slave_ip }}:{{ $labels.slave_port }} of {{ $labels.instance }} lags {{ $value }}s',
          description: `The master {{ $labels.instance }} has not had an acknowledgement from replica {{ $labels.slave_ip }}:{{ $labels.slave_port }} for more than ${maxLag}s (min-replicas-max-lag), for 2 minutes: the master no longer counts it for min-replicas-to-write.`,
        },
        {
          alert: 'RedisPersistenceFailing',
          expr:
            `redis_rdb_last_bgsave_status{job="${redis}"} == 0` +
            ` or redis_aof_last_write_status{job="${redis}"} == 0` +
            ` or redis_aof_last_bgrewrite_status{job="${redis}"} == 0`,
          for: '1m',
          severity: 'critical',
          service: 'redis',
          summary: 'Redis node {{ $labels.instance }} fails to persist its data',
          description:
            'The last RDB snapshot, AOF write or AOF rewrite of {{ $labels.instance }} failed: a master then refuses writes, and a restart would lose data. Usually the data volume is full or not writable; see the Redis log.',
        },
        {
          alert: 'RedisMemoryNearLimit',
          expr:
            `redis_memory_used_bytes{job="${redis}"} / (redis_memory_max_bytes{job="${redis}"} > 0) > ${t.memoryUsedRatio}`,
          for: '5m',
          severity: 'warning',
          service: 'redis',
          summary: 'Redis node {{ $labels.instance }} uses {{ $value | humanizePercentage }} of maxmemory',
          description: `{{ $labels.instance }} has used more than ${t.memoryUsedRatio * 100}% of its maxmemory for 5 minutes. At the limit it refuses writes (policy noeviction) and the API answers 503: raise redis.maxmemory (and the container's memory) or remove data.`,
        },
      ],
    },
    {
      name: 'evergreen-sentinel',
      rules: [
        {
          alert: 'SentinelDown',
          expr: `redis_up{job="${sentinel}"} == 0`,
          for: '1m',
          severity: 'warning',
          service: 'sentinel',
          summary: 'Sentinel {{ $labels.instance }} is down',
          description:
            'The redis exporter of {{ $labels.instance }} cannot reach its Sentinel for 1 minute. Failover still works while the quorum and a majority of Sentinels are up.',
        },
        {
          alert: 'SentinelQuorumLost',
          expr: `(sum(redis_up{job="${sentinel}"}) or vector(0)) < ${sentinelsNeeded}`,
          for: '1m',
          severity: 'critical',
          service: 'sentinel',
          summary: '{{ $value }} Sentinels are up, ' + `a failover needs ${sentinelsNeeded}`,
          description: `Fewer than ${sentinelsNeeded} Sentinels (the quorum, and a majority to elect the leader of a failover) have been up for 1 minute: if the master fails now, no replica is promoted.`,
        },
      ],
    },
    {
      name: 'evergreen-nginx',
      rules: [
        {
          alert: 'NginxDown',
          // absent(): on Kubernetes the gateway pods come from DNS, and with none left there is no target at all.
          expr: `nginx_up{job="${nginx}"} == 0 or absent(up{job="${nginx}"})`,
          for: '1m',
          severity: 'critical',
          service: 'nginx',
          summary: 'nginx {{ if $labels.instance }}{{ $labels.instance }}{{ else }}(every gateway){{ end }} is down',
          description:
            'For 1 minute the nginx exporter has not read the stub_status of the gateway named in the summary, or (Kubernetes) no gateway pod is known at all: nginx is the only public entry, clients probably get no answer.',
        },
      ],
    },
    {
      name: 'evergreen-monitoring',
      rules: [
        {
          alert: 'PrometheusTargetDown',
          expr: 'up == 0',
          for: '5m',
          severity: 'warning',
          service: 'monitoring',
          summary: 'Target {{ $labels.instance }} of job {{ $labels.job }} is down',
          description:
            'Prometheus has failed to scrape {{ $labels.instance }} (job {{ $labels.job }}) for 5 minutes: its alerts cannot fire. For an exporter, the service behind it may be fine; check the exporter first.',
        },
        {
          alert: 'PrometheusRuleEvaluationFailures',
          expr: 'increase(prometheus_rule_evaluation_failures_total[5m]) > 0',
          for: '5m',
          severity: 'warning',
          service: 'monitoring',
          summary: 'Prometheus fails to evaluate rules of group {{ $labels.rule_group }}',
          description:
            'Rule evaluations have failed for 5 minutes: some alerts cannot fire. The Prometheus log names the rule and the error.',
        },
        {
          alert: 'PrometheusNotificationsFailing',
          expr: 'increase(prometheus_notifications_errors_total[5m]) > 0',
          for: '5m',
          severity: 'critical',
          service: 'monitoring',
          summary: 'Prometheus cannot send alerts to Alertmanager {{ $labels.alertmanager }}',
          description:
            'Sending alerts to Alertmanager has failed for 5 minutes: nobody is notified of anything. Check that Alertmanager runs and is reachable from Prometheus.',
        },
      ],
    },
  ];
}

/** Renders the alert rules file (`alerts.yml`) that prometheus.yml names in `rule_files`. */
export function renderAlertRules(spec: StackSpec): string {
  const groups = alertRuleGroups(spec).map((group) => ({
    name: group.name,
    rules: group.rules.map((rule) => ({
      alert: rule.alert,
      expr: rule.expr,
      for: rule.for,
      labels: { severity: rule.severity, service: rule.service },
      annotations: { summary: rule.summary, description: rule.description },
    })),
  }));
  return stringify({ groups }, { lineWidth: 0 });
}
