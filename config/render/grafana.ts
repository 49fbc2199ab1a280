/**
 * Grafana provisioning: the Prometheus datasource, a file provider for the dashboards, and the
 * dashboards themselves (service, Redis & Sentinel, nginx) as JSON.
 *
 * The datasource has a fixed uid, and every panel and query names it by that uid, so dashboards
 * never depend on which datasource happens to be the default. Queries use Grafana's
 * `$__rate_interval` (at least four scrape intervals, so a rate always has two samples) and
 * `$__range` (the time picked in the dashboard).
 */
import { stringify } from 'yaml';
import type { StackSpec } from '../model';
import { JOBS } from './monitoring-model';

/** uid of the provisioned Prometheus datasource; every panel refers to it. */
export const PROMETHEUS_DATASOURCE_UID = 'evergreen-prometheus';

/** Where the dashboard provider reads the dashboards JSON from, inside the Grafana container. */
export const GRAFANA_DASHBOARDS_DIR = '/etc/grafana/dashboards';

/** Where Grafana reads provisioning files (the official image's `GF_PATHS_PROVISIONING`). */
export const GRAFANA_PROVISIONING_DIR = '/etc/grafana/provisioning';

const DATASOURCE = { type: 'prometheus', uid: PROMETHEUS_DATASOURCE_UID } as const;

export function renderGrafanaDatasources(spec: StackSpec): string {
  return stringify(
    {
      apiVersion: 1,
      datasources: [
        {
          name: 'Prometheus',
          type: 'prometheus',
          uid: PROMETHEUS_DATASOURCE_UID,
          access: 'proxy',
          url: `http://${spec.monitoring.prometheus.hostPort}`,
          isDefault: true,
          editable: false,
          // Lets Grafana size $__rate_interval from the real scrape interval.
          jsonData: { timeInterval: spec.monitoring.scrapeInterval, httpMethod: 'POST' },
        },
      ],
    },
    { lineWidth: 0 },
  );
}

export function renderGrafanaDashboardProvider(): string {
  return stringify(
    {
      apiVersion: 1,
      providers: [
        {
          name: 'evergreen',
          folder: 'Evergreen Stores',
          type: 'file',
          disableDeletion: true,
          // The files are the source of truth: edits in the UI are not kept.
          allowUiUpdates: false,
          updateIntervalSeconds: 60,
          options: { path: GRAFANA_DASHBOARDS_DIR, foldersFromFilesStructure: false },
        },
      ],
    },
    { lineWidth: 0 },
  );
}

// ---------------------------------------------------------------------------------------------------
// Dashboard model (the subset of Grafana's JSON model these dashboards use)

export interface PanelQuery {
  readonly expr: string;
  /** Legend, with `{{label}}` placeholders. */
  readonly legend?: string;
  /** Table panels ask for one value per series, at the end of the range. @default false */
  readonly instant?: boolean;
}

export interface PanelSpec {
  readonly title: string;
  readonly type: 'timeseries' | 'stat' | 'table';
  readonly description?: string;
  readonly unit?: string;
  readonly queries: readonly PanelQuery[];
  /** Grid columns out of 24. @default 12 */
  readonly width?: number;
}

export interface DashboardSpec {
  readonly uid: string;
  readonly title: string;
  readonly description: string;
  readonly panels: readonly PanelSpec[];
}

interface GridPos {
  h: number;
  w: number;
  x: number;
  y: number;
}

/** Rows of graphs and tables are 8 grid units high, rows of stats 4. */
function panelHeight(panel: PanelSpec): number {
  return panel.type === 'stat' ? 4 : 8;
}

/** Left to right, wrapping to a new row (as high as its tallest panel) when 24 columns are used up. */
function layout(panels: readonly PanelSpec[]): GridPos[] {
  let x = 0;
  let y = 0;
  let rowHeight = 0;
  return panels.map((panel) => {
    const w = panel.width ?? 12;
    const h = panelHeight(panel);
    if (x + w > 24) {
      x = 0;
      y += rowHeight;
      rowHeight = 0;
    }
    const pos = { h, w, x, y };
    x += w;
    rowHeight = Math.max(rowHeight, h);
    return pos;
  });
}

function panelJson(panel: PanelSpec, id: number, gridPos: GridPos): Record<string, unknown> {
  const refIds = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
  return {
    id,
    type: panel.type,
    title: panel.title,
    description: panel.description ?? '',
    datasource: DATASOURCE,
    gridPos,
    fieldConfig: { defaults: panel.unit === undefined ? {} : { unit: panel.unit }, overrides: [] },
    options:
      panel.type === 'stat'
        ? { reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false }, colorMode: 'value', graphMode: 'none' }
        : panel.type === 'table'
          ? { showHeader: true }
          : { legend: { displayMode: 'table', placement: 'bottom', showLegend: true }, tooltip: { mode: 'multi' } },
    targets: panel.queries.map((query, i) => ({
      refId: refIds[i] ?? `Q${i}`,
      datasource: DATASOURCE,
      expr: query.expr,
      legendFormat: query.legend ?? '__auto',
      range: !(query.instant ?? false),
      instant: query.instant ?? false,
      ...(panel.type === 'table' ? { format: 'table' } : {}),
    })),
  };
}

/** Grafana's dashboard JSON for one dashboard, ready to be provisioned from a file. */
export function dashboardJson(dashboard: DashboardSpec): Record<string, unknown> {
  const positions = layout(dashboard.panels);
  return {
    uid: dashboard.uid,
    title: dashboard.title,
    description: dashboard.description,
    tags: ['evergreen'],
    timezone: 'utc',
    editable: false,
    graphTooltip: 1,
    refresh: '30s',
    schemaVersion: 39,
    version: 1,
    time: { from: 'now-1h', to: 'now' },
    templating: { list: [] },
    annotations: { list: [] },
    panels: dashboard.panels.map((panel, i) => panelJson(panel, i + 1, positions[i] as GridPos)),
  };
}

// ---------------------------------------------------------------------------------------------------
// The dashboards

const R = '$__rate_interval';
const { api, nginx, redis, sentinel } = JOBS;

export function serviceDashboard(): DashboardSpec {
  const requests = `http_requests_total{job="${api}"}`;
  const buckets = `http_request_duration_seconds_bucket{job="${api}"}`;
  const purchases = `evergreen_purchases_total{job="${api}"}`;
  const quantile = (q: number): PanelQuery => ({
    expr: `histogram_quantile(${q}, sum by (route, le) (rate(${buckets}[${R}])))`,
    legend: `{{route}} p${Math.round(q * 100)}`,
  });
  return {
    uid: 'evergreen-service',
    title: 'Evergreen Stores / Service',
    description: 'The API as its clients see it: traffic, errors, latency per route, purchases.',
    panels: [
      { title: 'API instances up', type: 'stat', width: 6, queries: [{ expr: `sum(up{job="${api}"})` }] },
      {
        title: 'Instances with a writable Redis master',
        type: 'stat',
        width: 6,
        description: 'What /readyz reports: instances that can write.',
        queries: [{ expr: `sum(evergreen_redis_master_writable{job="${api}"})` }],
      },
      {
        title: 'Error ratio (5xx)',
        type: 'stat',
        width: 6,
        unit: 'percentunit',
        // 0, not "no data", while there has been no 5xx at all.
        queries: [
          { expr: `(sum(rate(http_requests_total{job="${api}",status=~"5.."}[${R}])) or vector(0)) / sum(rate(${requests}[${R}]))` },
        ],
      },
      {
        title: 'Requests per second',
        type: 'stat',
        width: 6,
        unit: 'reqps',
        queries: [{ expr: `sum(rate(${requests}[${R}]))` }],
      },
      {
        title: 'Request rate per route',
        type: 'timeseries',
        unit: 'reqps',
        queries: [{ expr: `sum by (method, route) (rate(${requests}[${R}]))`, legend: '{{method}} {{route}}' }],
      },
      {
        title: 'Responses per status',
        type: 'timeseries',
        unit: 'reqps',
        queries: [{ expr: `sum by (status) (rate(${requests}[${R}]))`, legend: '{{status}}' }],
      },
      {
        title: 'Errors per route (5xx)',
        type: 'timeseries',
        unit: 'reqps',
        queries: [
          { expr: `sum by (route) (rate(http_requests_total{job="${api}",status=~"5.."}[${R}]))`, legend: '{{route}}' },
        ],
      },
      {
        title: 'Client errors per route (4xx)',
        type: 'timeseries',
        unit: 'reqps',
        queries: [
          { expr: `sum by (route) (rate(http_requests_total{job="${api}",status=~"4.."}[${R}]))`, legend: '{{route}}' },
        ],
      },
      {
        title: 'Latency percentiles per route',
        type: 'timeseries',
        unit: 's',
        width: 24,
        queries: [quantile(0.5), quantile(0.9), quantile(0.99)],
      },
      {
        title: 'Purchases per outcome',
        type: 'timeseries',
        unit: 'ops',
        queries: [{ expr: `sum by (outcome) (rate(${purchases}[${R}]))`, legend: '{{outcome}}' }],
      },
      {
        title: 'Out-of-stock rate',
        type: 'timeseries',
        description: 'Share of purchase attempts refused for insufficient stock, and how many per second.',
        unit: 'percentunit',
        queries: [
          {
            expr: `sum(rate(evergreen_purchases_total{job="${api}",outcome="insufficient_stock"}[${R}])) / sum(rate(${purchases}[${R}]))`,
            legend: 'share of purchase attempts',
          },
        ],
      },
      {
        title: 'Out-of-stock refusals per second',
        type: 'timeseries',
        unit: 'ops',
        queries: [
          {
            expr: `sum(rate(evergreen_purchases_total{job="${api}",outcome="insufficient_stock"}[${R}]))`,
            legend: 'insufficient stock',
          },
        ],
      },
      {
        title: 'Redis errors seen by the API',
        type: 'timeseries',
        unit: 'ops',
        queries: [{ expr: `sum by (kind) (rate(evergreen_redis_errors_total{job="${api}"}[${R}]))`, legend: '{{kind}}' }],
      },
      {
        title: 'Reads per source',
        type: 'timeseries',
        description: 'Reads served by a replica (after the read-your-writes check) or by the master (fallback).',
        unit: 'ops',
        queries: [{ expr: `sum by (target) (rate(evergreen_redis_reads_total{job="${api}"}[${R}]))`, legend: '{{target}}' }],
      },
      {
        title: 'Process memory (RSS)',
        type: 'timeseries',
        unit: 'bytes',
        queries: [{ expr: `process_resident_memory_bytes{job="${api}"}`, legend: '{{instance}} RSS' }],
      },
      {
        title: 'Event loop lag p99',
        type: 'timeseries',
        description: 'A busy or blocked event loop delays every request of the instance.',
        unit: 's',
        queries: [{ expr: `nodejs_eventloop_lag_p99_seconds{job="${api}"}`, legend: '{{instance}}' }],
      },
      {
        title: 'Requests in flight',
        type: 'timeseries',
        description: 'Requests each instance is handling now: rising while the rate stays flat means they wait (Redis, CPU).',
        queries: [{ expr: `http_requests_in_flight{job="${api}"}`, legend: '{{instance}}' }],
      },
    ],
  };
}

export function redisDashboard(): DashboardSpec {
  const master = `redis_instance_info{job="${redis}",role="master"}`;
  return {
    uid: 'evergreen-redis',
    title: 'Evergreen Stores / Redis & Sentinel',
    description: 'Which node is master, replication, memory, load and failovers.',
    panels: [
      { title: 'Masters', type: 'stat', width: 4, description: 'Must be exactly 1.', queries: [{ expr: `count(${master})` }] },
      {
        title: 'Replicas connected to the master',
        type: 'stat',
        width: 5,
        queries: [{ expr: `sum(redis_connected_slaves{job="${redis}"} and on (instance) ${master})` }],
      },
      { title: 'Sentinels up', type: 'stat', width: 5, queries: [{ expr: `sum(redis_up{job="${sentinel}"})` }] },
      {
        title: 'Failovers in range (seen by the API)',
        type: 'stat',
        width: 5,
        description: 'Master changes seen by the API instances in the selected time range (the most any instance saw).',
        queries: [{ expr: `max(increase(evergreen_redis_failovers_total{job="${api}"}[$__range]))` }],
      },
      {
        title: 'Distinct masters in range (Sentinels)',
        type: 'stat',
        width: 5,
        description: 'Distinct master addresses the Sentinels reported in the selected range; more than 1 means a failover happened.',
        queries: [
          {
            expr: `count(count by (master_address) (count_over_time(redis_sentinel_master_status{job="${sentinel}"}[$__range])))`,
            legend: 'distinct masters',
          },
        ],
      },
      {
        title: 'Role per node',
        type: 'table',
        queries: [{ expr: `redis_instance_info{job="${redis}"}`, instant: true }],
      },
      {
        title: 'Master according to each Sentinel',
        type: 'table',
        description: 'master_address is the node each Sentinel currently points clients at; they must agree.',
        queries: [{ expr: `redis_sentinel_master_status{job="${sentinel}"}`, instant: true }],
      },
      {
        title: 'Nodes up',
        type: 'timeseries',
        queries: [
          { expr: `redis_up{job="${redis}"}`, legend: '{{instance}}' },
          { expr: `redis_up{job="${sentinel}"}`, legend: '{{instance}}' },
        ],
      },
      {
        title: 'Replication lag (bytes behind the master)',
        type: 'timeseries',
        unit: 'bytes',
        queries: [
          {
            expr: `redis_master_repl_offset{job="${redis}"} - on (instance) group_right () redis_connected_slave_offset_bytes{job="${redis}"}`,
            legend: '{{slave_ip}}:{{slave_port}}',
          },
        ],
      },
      {
        title: 'Seconds since each replica acknowledged',
        type: 'timeseries',
        unit: 's',
        queries: [{ expr: `redis_connected_slave_lag_seconds{job="${redis}"}`, legend: '{{slave_ip}}:{{slave_port}}' }],
      },
      {
        title: 'Replica link to master',
        type: 'timeseries',
        queries: [{ expr: `redis_master_link_up{job="${redis}"}`, legend: '{{instance}}' }],
      },
      {
        title: 'Memory used',
        type: 'timeseries',
        unit: 'bytes',
        queries: [
          { expr: `redis_memory_used_bytes{job="${redis}"}`, legend: '{{instance}} used' },
          { expr: `redis_memory_max_bytes{job="${redis}"}`, legend: '{{instance}} maxmemory' },
        ],
      },
      {
        title: 'Commands per second',
        type: 'timeseries',
        unit: 'ops',
        queries: [{ expr: `rate(redis_commands_processed_total{job="${redis}"}[${R}])`, legend: '{{instance}}' }],
      },
      {
        title: 'Connected clients',
        type: 'timeseries',
        queries: [{ expr: `redis_connected_clients{job="${redis}"}`, legend: '{{instance}}' }],
      },
      {
        title: 'Keys',
        type: 'timeseries',
        queries: [{ expr: `sum by (instance) (redis_db_keys{job="${redis}"})`, legend: '{{instance}}' }],
      },
      {
        title: 'Persistence: changes since last RDB save',
        type: 'timeseries',
        queries: [{ expr: `redis_rdb_changes_since_last_save{job="${redis}"}`, legend: '{{instance}}' }],
      },
      {
        title: 'Sentinels agreeing the master is reachable',
        type: 'timeseries',
        queries: [
          { expr: `redis_sentinel_master_ok_sentinels{job="${sentinel}"}`, legend: '{{instance}} sentinels' },
          { expr: `redis_sentinel_master_ok_slaves{job="${sentinel}"}`, legend: '{{instance}} replicas' },
        ],
      },
      {
        title: 'Sentinel TILT mode',
        type: 'timeseries',
        description: '1 while a Sentinel distrusts its clock and takes no action.',
        queries: [{ expr: `redis_sentinel_tilt{job="${sentinel}"}`, legend: '{{instance}}' }],
      },
    ],
  };
}

export function nginxDashboard(): DashboardSpec {
  return {
    uid: 'evergreen-nginx',
    title: 'Evergreen Stores / nginx',
    description: 'The public entry: requests and connections from stub_status.',
    panels: [
      { title: 'nginx up', type: 'stat', width: 12, queries: [{ expr: `nginx_up{job="${nginx}"}`, legend: '{{instance}}' }] },
      {
        title: 'Requests per second',
        type: 'stat',
        width: 12,
        unit: 'reqps',
        queries: [{ expr: `sum(rate(nginx_http_requests_total{job="${nginx}"}[${R}]))` }],
      },
      {
        title: 'Requests per second',
        type: 'timeseries',
        unit: 'reqps',
        queries: [{ expr: `rate(nginx_http_requests_total{job="${nginx}"}[${R}])`, legend: '{{instance}}' }],
      },
      {
        title: 'Connections by state',
        type: 'timeseries',
        queries: [
          { expr: `nginx_connections_active{job="${nginx}"}`, legend: 'active' },
          { expr: `nginx_connections_reading{job="${nginx}"}`, legend: 'reading' },
          { expr: `nginx_connections_writing{job="${nginx}"}`, legend: 'writing' },
          { expr: `nginx_connections_waiting{job="${nginx}"}`, legend: 'waiting (keepalive)' },
        ],
      },
      {
        title: 'Connections accepted and dropped',
        type: 'timeseries',
        description: 'Dropped = accepted but not handled (worker_connections exhausted).',
        unit: 'ops',
        queries: [
          { expr: `rate(nginx_connections_accepted{job="${nginx}"}[${R}])`, legend: 'accepted' },
          {
            expr: `rate(nginx_connections_accepted{job="${nginx}"}[${R}]) - rate(nginx_connections_handled{job="${nginx}"}[${R}])`,
            legend: 'dropped',
          },
        ],
      },
    ],
  };
}

/** Every dashboard, keyed by the file name it is provisioned as. */
export function grafanaDashboards(): Record<string, DashboardSpec> {
  return {
    'service.json': serviceDashboard(),
    'redis.json': redisDashboard(),
    'nginx.json': nginxDashboard(),
  };
}

export function renderDashboard(dashboard: DashboardSpec): string {
  return `${JSON.stringify(dashboardJson(dashboard), null, 2)}\n`;
}
