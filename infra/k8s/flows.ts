/**
 * The network connections the stack makes, derived from the model: who talks to whom on which port.
 * The NetworkPolicies allow exactly these (plus DNS) and deny everything else.
 */
import type { StackSpec } from '../../config';
import type { Workload } from './labels';

/** One allowed connection. `clients` are callers outside the namespace; `external` is outside the cluster. */
export interface Flow {
  readonly from: Workload | 'clients';
  readonly to: Workload | 'external';
  readonly port: number;
  readonly protocol: 'TCP' | 'UDP';
  /** Why the connection exists (shown in the policy's annotation). */
  readonly why: string;
}

/** The workload a stable Kubernetes name (`redis-0.redis.<ns>.svc.<domain>`, `api.<ns>.svc.<domain>`) points at. */
export function workloadOfHost(spec: StackSpec, host: string): Workload | undefined {
  const suffix = `.${spec.kubernetes.namespace}.svc.${spec.kubernetes.clusterDomain}`;
  if (!host.endsWith(suffix)) return undefined;
  const labels = host.slice(0, -suffix.length).split('.');
  const service = labels[labels.length - 1];
  const byService: Readonly<Record<string, Workload>> = {
    gateway: 'gateway',
    api: 'api',
    redis: 'redis',
    sentinel: 'sentinel',
    prometheus: 'prometheus',
    alertmanager: 'alertmanager',
    grafana: 'grafana',
  };
  return service === undefined ? undefined : byService[service];
}

function hostPort(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(':');
  return { host: address.slice(0, colon), port: Number(address.slice(colon + 1)) };
}

/** Host and port of an http(s) URL; undefined when it is not one. */
function urlEndpoint(url: string): { host: string; port: number } | undefined {
  try {
    const parsed = new URL(url);
    const port = parsed.port === '' ? (parsed.protocol === 'https:' ? 443 : 80) : Number(parsed.port);
    return { host: parsed.hostname, port };
  } catch {
    return undefined;
  }
}

const LOOPBACK = /^(127\.|localhost$|::1$|\[::1\]$)/;

/**
 * Where Alertmanager sends notifications (host and port of `monitoring.alertWebhookUrl`), which its egress policy
 * opens; undefined for a loopback URL (the default, a placeholder: nothing leaves the pod).
 */
export function alertWebhookEndpoint(spec: StackSpec): { host: string; port: number } | undefined {
  const webhook = urlEndpoint(spec.monitoring.alertWebhookUrl);
  return webhook && !LOOPBACK.test(webhook.host) ? webhook : undefined;
}

/** Every connection of the stack, deduplicated, in a stable order. */
export function stackFlows(spec: StackSpec): Flow[] {
  const flows: Flow[] = [];
  const add = (flow: Omit<Flow, 'protocol'>): void => {
    if (!flows.some((f) => f.from === flow.from && f.to === flow.to && f.port === flow.port)) {
      flows.push({ ...flow, protocol: 'TCP' });
    }
  };
  const redisPort = spec.redis.port;
  const sentinelPort = spec.sentinel.port;

  add({ from: 'clients', to: 'gateway', port: spec.gateway.port, why: 'public entry: clients reach nginx' });
  for (const upstream of spec.gateway.upstreams) {
    const to = workloadOfHost(spec, upstream.host);
    if (to) add({ from: 'gateway', to, port: upstream.port, why: 'nginx proxies to the API' });
  }
  add({ from: 'api', to: 'sentinel', port: sentinelPort, why: 'the API asks the Sentinels for the master' });
  add({ from: 'api', to: 'redis', port: redisPort, why: 'the API writes to the master and reads from replicas' });
  add({ from: 'redis', to: 'redis', port: redisPort, why: 'replicas replicate from the master (any node may be master)' });
  add({ from: 'redis', to: 'sentinel', port: sentinelPort, why: 'the Redis start-up script asks the Sentinels for the master' });
  add({ from: 'sentinel', to: 'redis', port: redisPort, why: 'Sentinels monitor and reconfigure the Redis nodes' });
  add({ from: 'sentinel', to: 'sentinel', port: sentinelPort, why: 'Sentinels talk to each other (hello messages, votes)' });
  for (const job of spec.monitoring.scrapeJobs) {
    for (const target of job.targets) {
      const { host, port } = hostPort(target.address);
      const to = workloadOfHost(spec, host);
      if (to) add({ from: 'prometheus', to, port, why: `Prometheus scrapes job ${job.job}` });
    }
  }
  add({
    from: 'prometheus',
    to: 'alertmanager',
    port: spec.monitoring.alertmanager.port,
    why: 'Prometheus sends alerts to Alertmanager',
  });
  const grafanaDatasource = spec.monitoring.prometheus;
  add({ from: 'grafana', to: 'prometheus', port: grafanaDatasource.port, why: 'Grafana queries Prometheus' });
  // Operators reach Grafana and Prometheus with `kubectl port-forward`, which policies do not restrict.
  const webhook = alertWebhookEndpoint(spec);
  if (webhook) {
    const inCluster = workloadOfHost(spec, webhook.host);
    add({
      from: 'alertmanager',
      to: inCluster ?? 'external',
      port: webhook.port,
      why: 'Alertmanager notifies the operators through the webhook',
    });
  }
  return flows;
}
