/**
 * What the monitoring tests need to know about the PromQL in the rendered files: every expression,
 * where it comes from, and the metric names it reads.
 */
import { parse } from 'yaml';
import type { MonitoringFile } from '../../../../config/render/monitoring-files';

export interface Expression {
  /** Where it is: `alerts.yml ApiHighErrorRatio`, `service.json "Error ratio (5xx)" A`. */
  readonly where: string;
  readonly expr: string;
}

interface RulesDocument {
  groups: { name: string; rules: { alert: string; expr: string }[] }[];
}

interface DashboardDocument {
  uid: string;
  panels: { title: string; datasource: { uid: string }; targets: { refId: string; expr: string; datasource: { uid: string } }[] }[];
}

/** Every PromQL expression of the rendered alert rules and dashboards, read back from the files. */
export function renderedExpressions(files: readonly MonitoringFile[]): Expression[] {
  return files.flatMap((file) => {
    const name = file.path.split('/').pop() ?? file.path;
    if (file.path.endsWith('alerts.yml')) {
      const rules = parse(file.content) as RulesDocument;
      return rules.groups.flatMap((g) => g.rules.map((r) => ({ where: `${name} ${r.alert}`, expr: r.expr })));
    }
    if (file.path.endsWith('.json')) {
      const dashboard = JSON.parse(file.content) as DashboardDocument;
      return dashboard.panels.flatMap((p) => p.targets.map((t) => ({ where: `${name} "${p.title}" ${t.refId}`, expr: t.expr })));
    }
    return [];
  });
}

/**
 * Grafana's macros replaced by what they stand for, so that promtool can parse a dashboard query:
 * `$__rate_interval` and `$__interval` are durations, `$__range` the dashboard's time range.
 */
export function withoutGrafanaMacros(expr: string): string {
  return expr.replace(/\$__rate_interval/g, '1m').replace(/\$__interval/g, '15s').replace(/\$__range/g, '1h');
}

const KEYWORDS = new Set([
  'and', 'or', 'unless', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'offset', 'bool', 'inf', 'nan',
]);

/**
 * The metric names an expression reads. A small scanner, enough for the expressions of this project:
 * strings, label matchers `{…}`, ranges `[…]` and label lists of `by/without/on/ignoring/group_*`
 * are dropped; of the identifiers left, those called like a function are functions or aggregations,
 * the rest (keywords aside) are metric names.
 */
export function metricNames(expr: string): string[] {
  const stripped = withoutGrafanaMacros(expr)
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = new Set<string>();
  for (const match of stripped.matchAll(/(?<![\w.:])([A-Za-z_:][\w:]*)(\s*\()?/g)) {
    const [, name, call] = match;
    if (name && !call && !KEYWORDS.has(name)) names.add(name);
  }
  return [...names].sort();
}
