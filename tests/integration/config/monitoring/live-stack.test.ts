/**
 * The monitoring files against the real thing: the loopback stack (Redis with the rendered ACLs,
 * Sentinels, API instances, nginx), the real exporters next to it (prometheus-redis-exporter per
 * Redis node and per Sentinel, logged in as the `exporter` ACL user; prometheus-nginx-exporter on
 * the stub_status listener), and a real Prometheus and Alertmanager started with the rendered
 * prometheus.yml, alerts.yml and alertmanager.yml.
 *
 * What it shows:
 * - every target of the rendered prometheus.yml is scraped successfully;
 * - every metric name a rule or a dashboard panel reads is one some target really exposes (the list
 *   is read from the live targets, not written down);
 * - every dashboard query runs and returns data (queries about errors may be empty on a stack
 *   without errors);
 * - every rule evaluates without error, nothing is pending or firing on a healthy stack, and a
 *   Sentinel or API instance that goes away puts its alert in pending;
 * - Alertmanager delivers an alert to the webhook of the model, grouped as configured, and holds
 *   back an alert that another one inhibits.
 */
import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { StackSpec } from '../../../../config';
import { prometheusCommandArgs } from '../../../../config/render/prometheus';
import { renderMonitoringFiles } from '../../../../config/render/monitoring-files';
import { startLoopbackTopology, type LoopbackTopology } from '../../../support/loopback';
import { freePort, startProcess, type ManagedProcess, type StartProcessProps } from '../../../support/processes';
import { waitFor } from '../../../support/wait';
import { metricNames, renderedExpressions, withoutGrafanaMacros, type Expression } from './promql';
import { makeTempDir, removeDir, writeFiles } from './tools';

jest.setTimeout(240_000);

const REDIS_REPLICAS = 1;
const SENTINELS = 3;
const API_INSTANCES = 2;

let topology: LoopbackTopology;
let spec: StackSpec;
let dir: string;
let prometheusUrl: string;
let exporterLogs: { name: string; tail: () => string }[] = [];

/** Exporters, Prometheus, Alertmanager: stopped before their directory is removed. */
const monitoringProcesses: ManagedProcess[] = [];
async function startMonitoringProcess(props: StartProcessProps): Promise<ManagedProcess> {
  const started = await startProcess(props);
  monitoringProcesses.push(started);
  return started;
}

/** A webhook receiver standing in for the operator's: it keeps every notification Alertmanager posts. */
interface WebhookNotification {
  receiver: string;
  status: string;
  groupLabels: Record<string, string>;
  alerts: { labels: Record<string, string> }[];
}
const notifications: WebhookNotification[] = [];
let webhook: Server | undefined;

async function startWebhook(port: number): Promise<Server> {
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      if (req.method === 'POST' && req.url === '/alerts') notifications.push(JSON.parse(body) as WebhookNotification);
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolveListen());
  });
  return server;
}

async function httpOk(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    await response.arrayBuffer();
    return response.ok;
  } catch {
    return false;
  }
}

interface PromResponse<T> {
  status: string;
  data: T;
  error?: string;
}

async function prometheusApi<T>(path: string, params: Record<string, string> = {}): Promise<T> {
  const url = `${prometheusUrl}/api/v1/${path}?${new URLSearchParams(params).toString()}`;
  const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  const body = (await response.json()) as PromResponse<T>;
  if (body.status !== 'success') throw new Error(`${path} ${JSON.stringify(params)}: ${body.error ?? response.status}`);
  return body.data;
}

async function query(expr: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  const data = await prometheusApi<{ result: { metric: Record<string, string>; value: [number, string] }[] }>('query', {
    query: expr,
  });
  return data.result;
}

/** Metric names in a Prometheus text exposition: sample names, and the series names of every declared family. */
function exposedNames(exposition: string): Set<string> {
  const names = new Set<string>();
  for (const line of exposition.split('\n')) {
    const type = /^# TYPE (\S+) (\w+)/.exec(line);
    if (type) {
      const [, family = '', kind] = type;
      if (kind === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(family + s);
      else if (kind === 'summary') for (const s of ['', '_sum', '_count']) names.add(family + s);
      else names.add(family);
      continue;
    }
    const sample = /^([A-Za-z_:][\w:]*)[{ ]/.exec(line);
    if (sample?.[1]) names.add(sample[1]);
  }
  return names;
}

/** Every `host:port` the rendered prometheus.yml scrapes, read back from the file. */
function renderedTargets(prometheusYml: string): { job: string; address: string; path: string }[] {
  const config = parse(prometheusYml) as {
    scrape_configs: { job_name: string; metrics_path: string; static_configs: { targets: string[] }[] }[];
  };
  return config.scrape_configs.flatMap((c) =>
    c.static_configs.flatMap((s) => s.targets.map((address) => ({ job: c.job_name, address, path: c.metrics_path }))),
  );
}

beforeAll(async () => {
  // Exporters, Prometheus and Alertmanager get free ports too: other test runs may share the machine.
  const ports: Record<string, number> = {};
  for (let i = 0; i <= REDIS_REPLICAS; i += 1) ports[`redis-exporter-${i}`] = await freePort();
  for (let i = 0; i < SENTINELS; i += 1) ports[`sentinel-exporter-${i}`] = await freePort();
  for (const name of ['nginx-exporter', 'prometheus', 'alertmanager', 'grafana']) ports[name] = await freePort();
  const webhookPort = await freePort();
  webhook = await startWebhook(webhookPort);
  topology = await startLoopbackTopology({
    apiInstances: API_INSTANCES,
    redisReplicas: REDIS_REPLICAS,
    sentinels: SENTINELS,
    // Scrape and evaluate every second, so that the test sees rates and pending alerts in seconds.
    stack: {
      ports,
      monitoring: {
        scrapeInterval: '1s',
        evaluationInterval: '1s',
        alertWebhookUrl: `http://127.0.0.1:${webhookPort}/alerts`,
      },
    },
  });
  spec = topology.spec;
  dir = makeTempDir('evergreen-monitoring-live-');
  const logs = join(dir, 'logs');
  writeFiles(dir, renderMonitoringFiles(spec));

  const exporterPassword = topology.secrets.redisPasswords.exporter;
  const redisExporters = [...spec.monitoring.redisExporters, ...spec.monitoring.sentinelExporters];
  const started = await Promise.all(
    redisExporters.map((exporter) =>
      startMonitoringProcess({
        name: exporter.name,
        command: 'prometheus-redis-exporter',
        // Double-dash flags: what both Debian's exporters and the pinned images accept.
        args: [
          `--redis.addr=redis://${exporter.target.host}:${exporter.target.port}`,
          '--redis.user=exporter',
          `--web.listen-address=${exporter.hostPort}`,
        ],
        // The password goes through the environment, not the command line (visible in ps).
        env: { REDIS_PASSWORD: exporterPassword },
        logFile: join(logs, `${exporter.name}.log`),
        ready: () => httpOk(`http://${exporter.hostPort}/metrics`),
      }),
    ),
  );
  exporterLogs = started.map((p) => ({ name: p.name, tail: () => p.logTail(200) }));
  const nginxExporter = spec.monitoring.nginxExporter;
  await startMonitoringProcess({
    name: nginxExporter.name,
    command: 'prometheus-nginx-exporter',
    args: [
      `--nginx.scrape-uri=http://${nginxExporter.target.host}:${nginxExporter.target.port}/stub_status`,
      `--web.listen-address=${nginxExporter.hostPort}`,
    ],
    logFile: join(logs, 'nginx-exporter.log'),
    ready: () => httpOk(`http://${nginxExporter.hostPort}/metrics`),
  });

  const alertmanager = spec.monitoring.alertmanager;
  mkdirSync(join(dir, 'alertmanager-data'));
  await startMonitoringProcess({
    name: 'alertmanager',
    command: 'prometheus-alertmanager',
    args: [
      `--config.file=${join(dir, 'alertmanager/alertmanager.yml')}`,
      `--storage.path=${join(dir, 'alertmanager-data')}`,
      `--web.listen-address=${alertmanager.hostPort}`,
      '--cluster.listen-address=', // a single Alertmanager: no gossip port
    ],
    logFile: join(logs, 'alertmanager.log'),
    ready: () => httpOk(`http://${alertmanager.hostPort}/-/ready`),
  });

  const prometheus = spec.monitoring.prometheus;
  prometheusUrl = `http://${prometheus.hostPort}`;
  await startMonitoringProcess({
    name: 'prometheus',
    command: 'prometheus',
    args: prometheusCommandArgs(spec, {
      configFile: join(dir, 'prometheus/prometheus.yml'),
      dataDir: join(dir, 'prometheus-data'),
    }),
    logFile: join(logs, 'prometheus.log'),
    ready: () => httpOk(`${prometheusUrl}/-/ready`),
  });

  // Traffic through nginx, so that the API's labelled series exist: a product with one item in
  // stock, a purchase that gets it and one that finds it out of stock, a miss.
  const base = topology.gatewayUrl ?? '';
  const headers = { authorization: `Bearer ${topology.apiToken}`, 'content-type': 'application/json' };
  const post = async (path: string, body: unknown): Promise<{ status: number; json: { id?: string } }> => {
    const response = await fetch(`${base}${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
    return { status: response.status, json: (await response.json()) as { id?: string } };
  };
  const user = await post('/v1/users', { name: 'Monitoring', email: `monitoring-${Date.now()}@example.org` });
  const product = await post('/v1/products', { name: 'Lamp', priceCents: 1200, stock: 1 });
  expect([user.status, product.status]).toEqual([201, 201]);
  const purchase = { userId: user.json.id, productId: product.json.id, quantity: 1 };
  expect((await post('/v1/purchases', purchase)).status).toBe(201);
  expect((await post('/v1/purchases', purchase)).status).toBe(409);
  expect((await fetch(`${base}/v1/products/does-not-exist`, { headers })).status).toBe(404);

  await waitFor(
    async () => {
      const targets = await prometheusApi<{ activeTargets: { health: string; scrapeUrl: string; lastError: string }[] }>(
        'targets',
      );
      const down = targets.activeTargets.filter((t) => t.health !== 'up');
      if (down.length > 0) throw new Error(down.map((t) => `${t.scrapeUrl}: ${t.health} ${t.lastError}`).join('; '));
      return targets.activeTargets.length > 0;
    },
    { what: 'Prometheus to scrape every target of the rendered prometheus.yml', timeoutMs: 30_000, intervalMs: 500 },
  );
}, 180_000);

afterAll(async () => {
  webhook?.close();
  await Promise.all(monitoringProcesses.map((p) => p.stop()));
  await topology?.stop();
  if (dir) removeDir(dir);
});

describe('the rendered monitoring against a live loopback stack', () => {
  it('scrapes every target the spec derives (beforeAll waited for each to be up)', async () => {
    const targets = await prometheusApi<{ activeTargets: { labels: Record<string, string>; health: string }[] }>('targets');
    const byJob = (job: string) => targets.activeTargets.filter((t) => t.labels.job === job);
    expect(byJob('api').map((t) => t.labels.instance).sort()).toEqual(spec.api.instanceList.map((i) => i.name));
    expect(byJob('redis')).toHaveLength(REDIS_REPLICAS + 1);
    expect(byJob('sentinel')).toHaveLength(SENTINELS);
    expect(byJob('nginx')).toHaveLength(1);
    expect(byJob('alertmanager')).toHaveLength(1);
    expect(byJob('prometheus')).toHaveLength(1);
    const alertmanagers = await prometheusApi<{ activeAlertmanagers: { url: string }[] }>('alertmanagers');
    expect(alertmanagers.activeAlertmanagers.map((a) => a.url)).toEqual([
      `http://${spec.monitoring.alertmanager.hostPort}/api/v2/alerts`,
    ]);
  });

  it('lets the exporters read everything they ask for with the exporter ACL user', () => {
    // A command the ACL refuses silently drops metrics; redis_exporter logs the refusal.
    const refused = exporterLogs.flatMap((l) =>
      l
        .tail()
        .split('\n')
        .filter((line) => /NOPERM|NOAUTH|WRONGPASS|no permissions/i.test(line))
        .map((line) => `${l.name}: ${line}`),
    );
    expect(refused).toEqual([]);
  });

  it('every metric a rule or a dashboard reads is exposed by some live target', async () => {
    const files = renderMonitoringFiles(spec);
    const prometheusYml = files.find((f) => f.path === 'prometheus/prometheus.yml')?.content ?? '';
    const exposed = new Set<string>();
    for (const target of renderedTargets(prometheusYml)) {
      const response = await fetch(`http://${target.address}${target.path}`, { signal: AbortSignal.timeout(5_000) });
      expect(response.status).toBe(200);
      for (const name of exposedNames(await response.text())) exposed.add(name);
    }
    // Series Prometheus makes itself for every target (up, scrape_*).
    for (const name of await prometheusApi<string[]>('label/__name__/values')) exposed.add(name);
    // What the live exporters gave must look like them, or the check below proves nothing.
    for (const name of ['redis_up', 'redis_instance_info', 'redis_sentinel_master_status', 'nginx_up', 'http_requests_total', 'up']) {
      expect(exposed).toContain(name);
    }

    const missing = renderedExpressions(files).flatMap((e: Expression) =>
      metricNames(e.expr)
        .filter((name) => !exposed.has(name))
        .map((name) => `${e.where}: ${name}`),
    );
    expect(missing).toEqual([]);
  });

  it('every dashboard query runs, and returns data unless it is about errors this stack has not had', async () => {
    const queries = renderedExpressions(renderMonitoringFiles(spec)).filter((e) => e.where.includes('.json'));
    const mayBeEmpty = (expr: string) => expr.includes('status=~"5.."') || expr.includes('evergreen_redis_errors_total');
    await waitFor(
      async () => {
        const empty: string[] = [];
        for (const q of queries) {
          const expr = withoutGrafanaMacros(q.expr);
          if ((await query(expr)).length === 0 && !mayBeEmpty(q.expr)) empty.push(q.where);
        }
        if (empty.length > 0) throw new Error(`no data for ${empty.join(', ')}`);
        return true;
      },
      { what: 'every dashboard query to return data', timeoutMs: 30_000, intervalMs: 1_000 },
    );
  });

  it('evaluates every rule without error, and nothing is pending or firing on the healthy stack', async () => {
    const rules = await prometheusApi<{ groups: { rules: { name: string; health: string; lastError?: string }[] }[] }>('rules');
    const all = rules.groups.flatMap((g) => g.rules);
    expect(all.length).toBeGreaterThan(10);
    expect(all.filter((r) => r.health !== 'ok').map((r) => `${r.name}: ${r.health} ${r.lastError ?? ''}`)).toEqual([]);
    // Waited for, not asserted at once: on a loaded machine one slow scrape may make an alert pending
    // for a moment; a rule that is wrongly true stays pending and fails the wait.
    await waitFor(
      async () => {
        const alerts = await query('ALERTS');
        if (alerts.length > 0) {
          throw new Error(alerts.map((a) => `${a.metric.alertname}{instance="${a.metric.instance ?? ''}"} ${a.metric.alertstate}`).join(', '));
        }
        return true;
      },
      { what: 'no alert to be pending or firing on the healthy stack', timeoutMs: 20_000, intervalMs: 500 },
    );
  });

  it('puts SentinelDown and ApiInstanceDown in pending when a Sentinel and an API instance go away', async () => {
    const sentinel = spec.sentinel.instances[SENTINELS - 1];
    const sentinelProcess = sentinel && topology.processes().get(sentinel.name);
    if (!sentinel || !sentinelProcess) throw new Error('no Sentinel process to stop');
    await sentinelProcess.stop();
    await topology.stopApi(API_INSTANCES - 1);
    const apiName = spec.api.instanceList[API_INSTANCES - 1]?.name ?? '';
    await waitFor(
      async () => {
        const alerts = await query('ALERTS{alertstate=~"pending|firing"}');
        const has = (name: string, instance: string) =>
          alerts.some((a) => a.metric.alertname === name && a.metric.instance === instance);
        return has('SentinelDown', sentinel.name) && has('ApiInstanceDown', apiName);
      },
      { what: `SentinelDown for ${sentinel.name} and ApiInstanceDown for ${apiName}`, timeoutMs: 30_000, intervalMs: 500 },
    );
  });

  it('Alertmanager notifies the webhook of the model, grouped by alert and service, and applies the inhibitions', async () => {
    const alertmanagerUrl = `http://${spec.monitoring.alertmanager.hostPort}`;
    const alert = (labels: Record<string, string>) => ({
      labels: { ...labels, severity: 'critical', service: 'redis' },
      annotations: { summary: 'posted by the monitoring test' },
      startsAt: new Date().toISOString(),
    });
    const posted = await fetch(`${alertmanagerUrl}/api/v2/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([
        alert({ alertname: 'RedisNoMaster', job: 'redis', role: 'master' }),
        alert({ alertname: 'RedisReplicationBroken', job: 'redis', instance: 'redis-1' }),
      ]),
    });
    expect(posted.status).toBe(200);

    // RedisNoMaster inhibits RedisReplicationBroken: Alertmanager says so for that alert.
    await waitFor(
      async () => {
        const response = await fetch(`${alertmanagerUrl}/api/v2/alerts?filter=alertname%3D%22RedisReplicationBroken%22`);
        const alerts = (await response.json()) as { status: { state: string; inhibitedBy: string[] } }[];
        return alerts.length === 1 && alerts[0]?.status.state === 'suppressed' && alerts[0].status.inhibitedBy.length === 1;
      },
      { what: 'RedisReplicationBroken to be inhibited by RedisNoMaster', timeoutMs: 20_000, intervalMs: 500 },
    );
    // Critical alerts wait 10 s for their group, then go to the operator's webhook.
    const delivered = await waitFor(
      () => notifications.find((n) => n.groupLabels.alertname === 'RedisNoMaster'),
      { what: 'the RedisNoMaster notification at the webhook', timeoutMs: 40_000, intervalMs: 500 },
    );
    expect(delivered).toMatchObject({
      receiver: 'operator',
      status: 'firing',
      groupLabels: { alertname: 'RedisNoMaster', service: 'redis' },
    });
    expect(notifications.flatMap((n) => n.alerts.map((a) => a.labels.alertname))).not.toContain('RedisReplicationBroken');
  });
});
