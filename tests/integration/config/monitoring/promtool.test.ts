/**
 * The rendered monitoring files, checked by the programs that read them: promtool (prometheus.yml,
 * the alert rules, a fires / does-not-fire test for every alert, every dashboard query) and amtool
 * (alertmanager.yml).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { defineStack, type StackOverrides, type StackTarget } from '../../../../config';
import { renderMonitoringFiles } from '../../../../config/render/monitoring-files';
import { alertRuleGroups } from '../../../../config/render/rules';
import { promtoolRuleTests } from './alert-cases';
import { renderedExpressions, withoutGrafanaMacros } from './promql';
import { makeTempDir, removeDir, runTool, writeFiles } from './tools';

jest.setTimeout(60_000);

const stacks: { name: string; target: StackTarget; overrides: StackOverrides }[] = [
  { name: 'docker defaults', target: 'docker', overrides: {} },
  { name: 'loopback', target: 'loopback', overrides: {} },
  { name: 'kubernetes', target: 'kubernetes', overrides: {} },
  {
    name: 'a larger docker stack',
    target: 'docker',
    overrides: { api: { instances: 3 }, redis: { replicas: 3 }, sentinel: { count: 5, quorum: 3 }, monitoring: { scrapeInterval: '5s' } },
  },
];

let dir: string;
beforeEach(() => {
  dir = makeTempDir('evergreen-monitoring-');
});
afterEach(() => removeDir(dir));

function expectSuccess(result: { code: number | null; output: string }): void {
  if (result.code !== 0) throw new Error(`exit code ${String(result.code)}:\n${result.output}`);
}

describe.each(stacks)('rendered monitoring files of the $name', ({ target, overrides }) => {
  it('pass promtool check config (with the rules beside prometheus.yml) and amtool check-config', async () => {
    writeFiles(dir, renderMonitoringFiles(defineStack(overrides, target)));
    const config = await runTool('promtool', ['check', 'config', 'prometheus/prometheus.yml'], dir);
    expectSuccess(config);
    expect(config.output).toMatch(/SUCCESS: 1 rule files found/);
    expect(config.output).toMatch(/SUCCESS: \d+ rules found/);
    expectSuccess(await runTool('amtool', ['check-config', 'alertmanager/alertmanager.yml'], dir));
  });
});

describe('alert rules', () => {
  it('pass promtool check rules', async () => {
    writeFiles(dir, renderMonitoringFiles(defineStack()));
    const result = await runTool('promtool', ['check', 'rules', 'prometheus/alerts.yml'], dir);
    expectSuccess(result);
    const count = alertRuleGroups(defineStack()).flatMap((g) => g.rules).length;
    expect(result.output).toContain(`SUCCESS: ${count} rules found`);
  });

  it('fire in the situation each is for, and stay silent in the one next to it (promtool test rules)', async () => {
    const spec = defineStack();
    writeFiles(dir, renderMonitoringFiles(spec));
    const tests = promtoolRuleTests('alerts.yml', alertRuleGroups(spec).flatMap((g) => g.rules));
    writeFileSync(join(dir, 'prometheus', 'alerts.test.yml'), stringify(tests, { lineWidth: 0 }));
    const result = await runTool('promtool', ['test', 'rules', 'alerts.test.yml'], join(dir, 'prometheus'));
    expectSuccess(result);
    expect(result.output).toContain('SUCCESS');
  });

  it('the rule tests can fail: a rule with a wrong threshold is caught', async () => {
    const spec = defineStack();
    const files = renderMonitoringFiles(spec).map((f) =>
      f.path.endsWith('alerts.yml') ? { ...f, content: f.content.replace('== 0\n', '== 1\n') } : f,
    );
    writeFiles(dir, files);
    const tests = promtoolRuleTests('alerts.yml', alertRuleGroups(spec).flatMap((g) => g.rules));
    writeFileSync(join(dir, 'prometheus', 'alerts.test.yml'), stringify(tests, { lineWidth: 0 }));
    const result = await runTool('promtool', ['test', 'rules', 'alerts.test.yml'], join(dir, 'prometheus'));
    expect(result.code).not.toBe(0);
    expect(result.output).toContain('alertname: ApiInstanceDown');
  });
});

describe('dashboard queries', () => {
  function recordingRules(exprs: readonly string[]): string {
    return stringify(
      { groups: [{ name: 'dashboards', rules: exprs.map((expr, i) => ({ record: `evergreen:dashboard_query:${i}`, expr })) }] },
      { lineWidth: 0 },
    );
  }

  it('every query of every dashboard parses (promtool check rules on a group holding each one)', async () => {
    const queries = renderedExpressions(renderMonitoringFiles(defineStack())).filter((e) => e.where.includes('.json'));
    expect(queries.length).toBeGreaterThan(30);
    writeFileSync(join(dir, 'dashboards.rules.yml'), recordingRules(queries.map((q) => withoutGrafanaMacros(q.expr))));
    const result = await runTool('promtool', ['check', 'rules', 'dashboards.rules.yml'], dir);
    expectSuccess(result);
    expect(result.output).toContain(`SUCCESS: ${queries.length} rules found`);
  });

  it('the check catches a query that does not parse', async () => {
    writeFileSync(join(dir, 'broken.rules.yml'), recordingRules(['sum by (route (rate(http_requests_total[1m]))']));
    const result = await runTool('promtool', ['check', 'rules', 'broken.rules.yml'], dir);
    expect(result.code).not.toBe(0);
  });
});
