/**
 * prometheus.yml: what Prometheus scrapes, how often, which rule file it loads and where it sends alerts.
 *
 * - Each API instance is scraped directly (not through nginx, which would spread the scrapes over
 *   the instances and hides /metrics anyway), so that one instance's failure shows as its own `up == 0`.
 * - nginx, every Redis node and every Sentinel are scraped through an exporter next to them
 *   (prometheus-nginx-exporter reading stub_status; one redis_exporter per node and per Sentinel), so
 *   that a dead service still has a live target that reports `nginx_up 0` / `redis_up 0`.
 * - The `instance` label is the instance's name in the stack (`api-0`, `redis-1`), not the
 *   exporter's address: alerts and dashboards then speak of the thing that is down, and a Redis
 *   node keeps its identity across failovers.
 * - Targets are the model's `monitoring.scrapeJobs`, except the API and the gateway on Kubernetes:
 *   there the instances are the pods of a Deployment (the API's resized by the autoscaler) behind one
 *   Service address, so Prometheus finds each pod by DNS through a headless Service
 *   (`KUBERNETES_API_PODS_SERVICE`, `KUBERNETES_GATEWAY_PODS_SERVICE`).
 * - TSDB retention is a command-line flag of Prometheus, not part of this file: see
 *   `prometheusCommandArgs`.
 */
import { stringify } from 'yaml';
import type { ScrapeJob, StackSpec } from '../model';
import { durationSeconds, JOBS } from './monitoring-model';

/** File name of the alert rules, loaded from beside prometheus.yml (relative paths resolve against it). */
export const ALERT_RULES_FILE = 'alerts.yml';

/** Prometheus' own default; a scrape must also end before the next one starts. */
const DEFAULT_SCRAPE_TIMEOUT_SECONDS = 10;

/**
 * The `instance` label of a target: for an exporter, the name of what it exports (`redis-0`, not
 * `redis-exporter-0`; the gateway, not its status listener), else the target's own instance name.
 */
function instanceLabels(spec: StackSpec): Map<string, string> {
  const { monitoring } = spec;
  const labels = new Map<string, string>();
  for (const exporter of [...monitoring.redisExporters, ...monitoring.sentinelExporters]) {
    labels.set(exporter.name, exporter.target.name);
  }
  labels.set(monitoring.nginxExporter.name, spec.gateway.instance.name);
  return labels;
}

function staticJob(job: ScrapeJob, labels: ReadonlyMap<string, string>): Record<string, unknown> {
  return {
    job_name: job.job,
    metrics_path: job.metricsPath,
    static_configs: job.targets.map((target) => ({
      targets: [target.address],
      labels: { instance: labels.get(target.instance) ?? target.instance },
    })),
  };
}

/**
 * Name of the headless Service (clusterIP: None) that selects the API pods on Kubernetes: its DNS
 * name resolves to every pod's address, which is how Prometheus finds each pod to scrape it on its
 * own. (Kubernetes service discovery would need RBAC, and Debian's Prometheus lacks it.)
 */
export const KUBERNETES_API_PODS_SERVICE = 'api-pods';

/**
 * The same for the gateway pods (each with its nginx exporter sidecar): through the `gateway` Service
 * each scrape would reach whichever pod it was balanced to, so with more than one gateway replica the
 * nginx series would jump between pods' counters and a dead pod's `nginx_up 0` could go unseen.
 */
export const KUBERNETES_GATEWAY_PODS_SERVICE = 'gateway-pods';

/**
 * A job on Kubernetes whose targets are the pods behind headless Service `service`: one target per address
 * its DNS name resolves to (ready or not), re-resolved every 30 s.
 */
function kubernetesPodsJob(spec: StackSpec, job: string, service: string, port: number): Record<string, unknown> {
  const { namespace, clusterDomain } = spec.kubernetes;
  return {
    job_name: job,
    metrics_path: '/metrics',
    dns_sd_configs: [{ names: [`${service}.${namespace}.svc.${clusterDomain}`], type: 'A', port, refresh_interval: '30s' }],
  };
}

/** The scrape config of `job`: static targets of the model, or on Kubernetes the pods of a Deployment. */
function scrapeConfig(spec: StackSpec, job: ScrapeJob, labels: ReadonlyMap<string, string>): Record<string, unknown> {
  if (spec.target === 'kubernetes') {
    if (job.job === JOBS.api) return kubernetesPodsJob(spec, job.job, KUBERNETES_API_PODS_SERVICE, spec.api.port);
    if (job.job === JOBS.nginx) return kubernetesPodsJob(spec, job.job, KUBERNETES_GATEWAY_PODS_SERVICE, spec.monitoring.nginxExporter.port);
  }
  return staticJob(job, labels);
}

/** `seconds` as a Prometheus duration, which takes whole numbers only: '10s', or '500ms' for half a second. */
function wholeDuration(seconds: number): string {
  return Number.isInteger(seconds) ? `${seconds}s` : `${Math.round(seconds * 1000)}ms`;
}

export function renderPrometheusConfig(spec: StackSpec): string {
  const { monitoring } = spec;
  const intervalSeconds = durationSeconds(monitoring.scrapeInterval);
  const labels = instanceLabels(spec);
  const scrapeConfigs = monitoring.scrapeJobs
    .filter((job) => job.targets.length > 0)
    .map((job) => scrapeConfig(spec, job, labels));
  const config = {
    global: {
      scrape_interval: monitoring.scrapeInterval,
      scrape_timeout: wholeDuration(Math.min(intervalSeconds, DEFAULT_SCRAPE_TIMEOUT_SECONDS)),
      evaluation_interval: monitoring.evaluationInterval,
      // Names the stack in alerts that leave it (Alertmanager, federation).
      external_labels: { stack: spec.name },
    },
    rule_files: [ALERT_RULES_FILE],
    alerting: {
      alertmanagers: [{ static_configs: [{ targets: [monitoring.alertmanager.hostPort] }] }],
    },
    scrape_configs: scrapeConfigs,
  };
  return stringify(config, { lineWidth: 0 });
}

/**
 * Command-line flags of the Prometheus process that come from the model (the config file cannot
 * hold them): where the config and the TSDB are, how long and how much is kept, where it listens.
 */
export function prometheusCommandArgs(
  spec: StackSpec,
  paths: { readonly configFile: string; readonly dataDir: string },
): string[] {
  const { monitoring } = spec;
  const listenHost = spec.target === 'loopback' ? '127.0.0.1' : '0.0.0.0';
  return [
    `--config.file=${paths.configFile}`,
    `--storage.tsdb.path=${paths.dataDir}`,
    `--storage.tsdb.retention.time=${monitoring.retentionTime}`,
    ...(monitoring.retentionSize === '0' ? [] : [`--storage.tsdb.retention.size=${monitoring.retentionSize}`]),
    `--web.listen-address=${listenHost}:${monitoring.prometheus.port}`,
  ];
}
