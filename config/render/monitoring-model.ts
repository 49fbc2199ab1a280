/**
 * Small facts shared by the monitoring renderers (prometheus.yml, alert rules, alertmanager.yml,
 * Grafana provisioning).
 */
import type { ScrapeJob } from '../model';

export type JobName = ScrapeJob['job'];

/**
 * Prometheus job names, fixed by the contract between the helpers: rules and dashboards select on
 * them, the model's `monitoring.scrapeJobs` produces them.
 */
export const JOBS: { readonly [K in JobName]: K } = {
  api: 'api',
  nginx: 'nginx',
  redis: 'redis',
  sentinel: 'sentinel',
  alertmanager: 'alertmanager',
  prometheus: 'prometheus',
};

const UNIT_SECONDS: Readonly<Record<string, number>> = {
  ms: 0.001,
  s: 1,
  m: 60,
  h: 3600,
  d: 86_400,
  w: 604_800,
  y: 31_536_000,
};

/** Seconds in a Prometheus duration such as `15s`, `1m30s` or `500ms`. */
export function durationSeconds(duration: string): number {
  const parts = [...duration.matchAll(/(\d+)(ms|s|m|h|d|w|y)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== duration) {
    throw new RangeError(`"${duration}" is not a Prometheus duration like 15s or 1m30s`);
  }
  return parts.reduce((sum, [, n, unit]) => sum + Number(n) * (UNIT_SECONDS[unit ?? 's'] ?? 1), 0);
}
