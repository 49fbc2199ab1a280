import { parse } from 'yaml';
import { defineStack } from '../../../../config';
import {
  GRAFANA_DASHBOARDS_DIR,
  PROMETHEUS_DATASOURCE_UID,
  renderGrafanaDashboardProvider,
} from '../../../../config/render/grafana';
import { renderMonitoringFiles } from '../../../../config/render/monitoring-files';
import { JOBS } from '../../../../config/render/monitoring-model';
import { metricNames } from '../../../integration/config/monitoring/promql';

interface Panel {
  id: number;
  title: string;
  type: string;
  datasource: { type: string; uid: string };
  gridPos: { h: number; w: number; x: number; y: number };
  targets: { refId: string; expr: string; datasource: { uid: string }; instant?: boolean; format?: string }[];
}
interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
}

const spec = defineStack();
const files = renderMonitoringFiles(spec);
const dashboards = files.filter((f) => f.path.endsWith('.json')).map((f) => JSON.parse(f.content) as Dashboard);
const datasourcesFile = files.find((f) => f.path === 'grafana/provisioning/datasources/prometheus.yml');
const datasources = (parse(datasourcesFile?.content ?? '') as { datasources: { uid: string; url: string; type: string }[] })
  .datasources;

function dashboard(uid: string): Dashboard {
  const found = dashboards.find((d) => d.uid === uid);
  if (!found) throw new Error(`no dashboard ${uid}`);
  return found;
}

function namesUsed(d: Dashboard): Set<string> {
  return new Set(d.panels.flatMap((p) => p.targets.flatMap((t) => metricNames(t.expr))));
}

describe('Grafana provisioning', () => {
  it('provisions the Prometheus of the spec under a fixed uid', () => {
    expect(datasources).toEqual([
      expect.objectContaining({
        uid: PROMETHEUS_DATASOURCE_UID,
        type: 'prometheus',
        url: `http://${spec.monitoring.prometheus.hostPort}`,
      }),
    ]);
    const loopback = defineStack({}, 'loopback');
    const loopbackFile = renderMonitoringFiles(loopback).find((f) => f.path.endsWith('datasources/prometheus.yml'));
    expect(loopbackFile?.content).toContain(`url: http://127.0.0.1:${loopback.monitoring.prometheus.port}`);
  });

  it('has a file provider reading the dashboards directory', () => {
    const provider = parse(renderGrafanaDashboardProvider()) as { providers: { type: string; options: { path: string } }[] };
    expect(provider.providers).toEqual([expect.objectContaining({ type: 'file', options: expect.objectContaining({ path: GRAFANA_DASHBOARDS_DIR }) })]);
  });

  it('gives the dashboards unique uids and titles', () => {
    expect(dashboards.map((d) => d.uid).sort()).toEqual(['evergreen-nginx', 'evergreen-redis', 'evergreen-service']);
    expect(new Set(dashboards.map((d) => d.title)).size).toBe(dashboards.length);
  });

  it('points every panel and every query at a datasource that is provisioned', () => {
    const uids = new Set(datasources.map((d) => d.uid));
    for (const d of dashboards) {
      for (const p of d.panels) {
        expect(uids).toContain(p.datasource.uid);
        expect(p.targets.length).toBeGreaterThan(0);
        for (const t of p.targets) expect(uids).toContain(t.datasource.uid);
      }
    }
  });

  it('lays panels out on the 24-column grid without overlaps, with unique ids and refIds', () => {
    for (const d of dashboards) {
      expect(new Set(d.panels.map((p) => p.id)).size).toBe(d.panels.length);
      const cells = new Set<string>();
      for (const p of d.panels) {
        expect(p.gridPos.x + p.gridPos.w).toBeLessThanOrEqual(24);
        expect(new Set(p.targets.map((t) => t.refId)).size).toBe(p.targets.length);
        for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x += 1) {
          for (let y = p.gridPos.y; y < p.gridPos.y + p.gridPos.h; y += 1) {
            const cell = `${x},${y}`;
            expect(cells.has(cell)).toBe(false);
            cells.add(cell);
          }
        }
      }
    }
  });

  it('selects only jobs that prometheus.yml defines', () => {
    const jobs = new Set<string>(Object.values(JOBS));
    for (const d of dashboards) {
      for (const t of d.panels.flatMap((p) => p.targets)) {
        const selected = [...t.expr.matchAll(/job="([^"]*)"/g)].map((m) => m[1]);
        expect(selected.length).toBeGreaterThan(0);
        for (const job of selected) expect(jobs).toContain(job);
      }
    }
  });

  it('shows request rate, errors, latency percentiles per route, purchases and out-of-stock on the service dashboard', () => {
    const service = dashboard('evergreen-service');
    const exprs = service.panels.flatMap((p) => p.targets.map((t) => t.expr));
    expect(exprs.some((e) => /sum by \(method, route\) \(rate\(http_requests_total/.test(e))).toBe(true);
    expect(exprs.some((e) => e.includes('status=~"5.."'))).toBe(true);
    for (const q of ['0.5', '0.9', '0.99']) {
      expect(exprs).toContainEqual(expect.stringMatching(new RegExp(`^histogram_quantile\\(${q.replace('.', '\\.')}, sum by \\(route, le\\)`)));
    }
    expect(exprs.some((e) => e.includes('evergreen_purchases_total') && e.includes('sum by (outcome)'))).toBe(true);
    expect(exprs.some((e) => e.includes('outcome="insufficient_stock"'))).toBe(true);
  });

  it('shows role, replicas, replication lag, memory, ops and failovers on the Redis & Sentinel dashboard', () => {
    const used = namesUsed(dashboard('evergreen-redis'));
    for (const name of [
      'redis_instance_info',
      'redis_connected_slaves',
      'redis_connected_slave_offset_bytes',
      'redis_master_repl_offset',
      'redis_memory_used_bytes',
      'redis_commands_processed_total',
      'evergreen_redis_failovers_total',
      'redis_sentinel_master_status',
    ]) {
      expect(used).toContain(name);
    }
  });

  it('shows each node\'s role, and the master each Sentinel points at, as tables of the current values', () => {
    const tables = dashboard('evergreen-redis').panels.filter((p) => p.type === 'table');
    expect(tables.map((p) => p.targets.map((t) => t.expr))).toEqual([
      ['redis_instance_info{job="redis"}'],
      ['redis_sentinel_master_status{job="sentinel"}'],
    ]);
    for (const t of tables.flatMap((p) => p.targets)) expect(t).toMatchObject({ instant: true, format: 'table' });
  });

  it('shows nginx from its exporter', () => {
    expect([...namesUsed(dashboard('evergreen-nginx'))].every((n) => n.startsWith('nginx_'))).toBe(true);
  });
});
