import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { defineStack, type StackOverrides } from '../../../../config';
import { JOBS } from '../../../../config/render/monitoring-model';
import { alertRuleGroups, renderAlertRules } from '../../../../config/render/rules';
import { ALERT_CASES } from '../../../integration/config/monitoring/alert-cases';

interface RenderedRule {
  alert: string;
  expr: string;
  for: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

function renderedRules(overrides: StackOverrides = {}): RenderedRule[] {
  const doc = parse(renderAlertRules(defineStack(overrides))) as { groups: { name: string; rules: RenderedRule[] }[] };
  return doc.groups.flatMap((g) => g.rules);
}

function rule(rules: readonly RenderedRule[], alert: string): RenderedRule {
  const found = rules.find((r) => r.alert === alert);
  if (!found) throw new Error(`no alert ${alert}`);
  return found;
}

describe('renderAlertRules', () => {
  const rules = renderedRules();

  it('has the alerts the issue asks for', () => {
    // API instance down, high 5xx ratio, high p99 latency, Redis down, no master / more than one master,
    // replica missing or replication broken, Sentinel down, nginx down, Prometheus target down.
    expect(rules.map((r) => r.alert)).toEqual(
      expect.arrayContaining([
        'ApiInstanceDown',
        'ApiHighErrorRatio',
        'ApiHighLatencyP99',
        'RedisDown',
        'RedisNoMaster',
        'RedisMultipleMasters',
        'RedisReplicaMissing',
        'RedisReplicationBroken',
        'SentinelDown',
        'NginxDown',
        'PrometheusTargetDown',
      ]),
    );
  });

  it('gives every alert a unique name, a for:, a severity and service label, a summary and a description', () => {
    expect(new Set(rules.map((r) => r.alert)).size).toBe(rules.length);
    for (const r of rules) {
      expect(r.for).toMatch(/^\d+[smh]$/);
      expect(['critical', 'warning']).toContain(r.labels.severity);
      expect(['api', 'redis', 'sentinel', 'nginx', 'monitoring']).toContain(r.labels.service);
      expect(r.annotations.summary?.length).toBeGreaterThan(10);
      expect(r.annotations.description?.length).toBeGreaterThan(30);
    }
  });

  it('selects only jobs that prometheus.yml defines', () => {
    const jobs = new Set<string>(Object.values(JOBS));
    for (const r of rules) {
      for (const [, job] of r.expr.matchAll(/job="([^"]*)"/g)) expect(jobs).toContain(job);
    }
  });

  it('expects as many replicas as the spec has', () => {
    expect(rule(rules, 'RedisReplicaMissing').expr).toMatch(/< 2$/);
    expect(rule(renderedRules({ redis: { replicas: 4 } }), 'RedisReplicaMissing').expr).toMatch(/< 4$/);
  });

  it('counts Sentinels against what a failover needs: the quorum, and a majority to elect a leader', () => {
    expect(rule(rules, 'SentinelQuorumLost').expr).toMatch(/< 2$/);
    expect(rule(renderedRules({ sentinel: { count: 5, quorum: 4 } }), 'SentinelQuorumLost').expr).toMatch(/< 4$/);
    expect(rule(renderedRules({ sentinel: { count: 5, quorum: 2 } }), 'SentinelQuorumLost').expr).toMatch(/< 3$/);
  });

  it('calls a replica lagging where the master stops counting it (min-replicas-max-lag)', () => {
    expect(rule(rules, 'RedisReplicationLagging').expr).toMatch(/> 10$/);
    expect(rule(renderedRules({ redis: { minReplicasMaxLagSeconds: 20 } }), 'RedisReplicationLagging').expr).toMatch(/> 20$/);
  });

  it('has, for every alert, a promtool case where it fires and one where it must not', () => {
    const alerts = alertRuleGroups(defineStack()).flatMap((g) => g.rules.map((r) => r.alert));
    expect(Object.keys(ALERT_CASES).sort()).toEqual([...alerts].sort());
    for (const cases of Object.values(ALERT_CASES)) {
      expect(cases.fires.input.length).toBeGreaterThan(0);
      expect(cases.silent.input.length).toBeGreaterThan(0);
    }
  });

  it('has a row in docs/monitoring.md for every alert, saying what to do', () => {
    const docs = readFileSync(join(__dirname, '../../../../docs/monitoring.md'), 'utf8');
    const documented = [...docs.matchAll(/^\| (\w+) \| (critical|warning) \|/gm)].map((m) => `${m[1]} ${m[2]}`);
    expect(documented.sort()).toEqual(rules.map((r) => `${r.alert} ${r.labels.severity}`).sort());
  });
});
