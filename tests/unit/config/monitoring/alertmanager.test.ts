import { parse } from 'yaml';
import { defineStack } from '../../../../config';
import {
  AlertmanagerConfigError,
  alertmanagerConfigContainsSecret,
  renderAlertmanagerConfig,
} from '../../../../config/render/alertmanager';
import { alertRuleGroups } from '../../../../config/render/rules';

interface Route {
  receiver: string;
  group_by?: string[];
  matchers?: string[];
  routes?: Route[];
}
interface AlertmanagerConfig {
  route: Route;
  inhibit_rules: { source_matchers: string[]; target_matchers: string[]; equal?: string[] }[];
  receivers: { name: string; webhook_configs: { url: string; send_resolved: boolean }[] }[];
}

const render = (...args: Parameters<typeof renderAlertmanagerConfig>) =>
  parse(renderAlertmanagerConfig(...args)) as AlertmanagerConfig;

function routes(route: Route): Route[] {
  return [route, ...(route.routes ?? []).flatMap(routes)];
}

describe('renderAlertmanagerConfig', () => {
  it('sends every alert to the webhook of the model by default, grouped by alert and service', () => {
    const spec = defineStack();
    const config = render(spec);
    expect(config.route.group_by).toEqual(['alertname', 'service']);
    expect(config.receivers).toEqual([
      { name: 'operator', webhook_configs: [{ url: spec.monitoring.alertWebhookUrl, send_resolved: true }] },
    ]);
    const names = new Set(config.receivers.map((r) => r.name));
    for (const r of routes(config.route)) expect(names).toContain(r.receiver);
  });

  it('uses the receiver an operator sets in the model', () => {
    const config = render(defineStack({ monitoring: { alertWebhookUrl: 'https://hooks.example.org/evergreen' } }));
    expect(config.receivers[0]?.webhook_configs[0]?.url).toBe('https://hooks.example.org/evergreen');
  });

  it('takes a webhook URL that carries a token as a secret, and says the file then holds one', () => {
    const secretUrl = 'https://hooks.example.org/T0KEN-abc123';
    const text = renderAlertmanagerConfig(defineStack(), { alertWebhookUrl: secretUrl });
    expect(text).toContain(secretUrl);
    expect(text).not.toContain(defineStack().monitoring.alertWebhookUrl);
    expect(alertmanagerConfigContainsSecret({ alertWebhookUrl: secretUrl })).toBe(true);
    expect(alertmanagerConfigContainsSecret()).toBe(false);
  });

  it('refuses a secret URL that is not http(s) with one error naming it', () => {
    const attempt = () => renderAlertmanagerConfig(defineStack(), { alertWebhookUrl: 'ftp://example.org/x' });
    expect(attempt).toThrow(AlertmanagerConfigError);
    expect(attempt).toThrow(/secrets\.alertWebhookUrl: must be an http\(s\) URL/);
  });

  it('routes critical alerts sooner', () => {
    const critical = render(defineStack()).route.routes?.find((r) => r.matchers?.includes('severity="critical"'));
    expect(critical).toMatchObject({ receiver: 'operator', group_wait: '10s' });
  });

  it('inhibits only alerts that exist', () => {
    const alerts = alertRuleGroups(defineStack()).flatMap((g) => g.rules.map((r) => r.alert));
    const config = render(defineStack());
    const named = config.inhibit_rules.flatMap((r) => [...r.source_matchers, ...r.target_matchers]);
    expect(named.length).toBeGreaterThan(0);
    for (const matcher of named) {
      const [, op, value] = /^alertname(=~|=)"(.*)"$/.exec(matcher) ?? [];
      expect(value).toBeDefined();
      for (const name of op === '=~' ? (value ?? '').split('|') : [value]) expect(alerts).toContain(name);
    }
  });
});
