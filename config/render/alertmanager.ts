/**
 * alertmanager.yml: how alerts from Prometheus are grouped, how they silence each other, and where
 * they are delivered.
 *
 * Every alert goes to one receiver, `operator`: a webhook whose URL the operator sets in the model
 * (`monitoring.alertWebhookUrl`), or — when the URL carries a token — passes as a secret. Any chat or
 * paging tool with an Alertmanager webhook bridge plugs in there. Alerts are grouped per alert name
 * and part of the stack (the `service` label every rule sets), so that three Sentinels going down make
 * one notification, not three.
 */
import { stringify } from 'yaml';
import type { StackSpec } from '../model';

export interface AlertmanagerSecrets {
  /** Replaces `monitoring.alertWebhookUrl` (for a URL that carries a token; the file then holds a secret). */
  readonly alertWebhookUrl?: string;
}

/** Grouping timings (see the Alertmanager docs of `route`). */
export const ALERT_GROUPING = {
  /** Wait for more alerts of a new group before its first notification. */
  groupWait: '30s',
  /** Wait before notifying about new alerts in a group that was already notified. */
  groupInterval: '5m',
  /** Notify again about a still-firing, unchanged group after this long. */
  repeatInterval: '4h',
  /** Critical alerts go out sooner… */
  criticalGroupWait: '10s',
  /** …and are repeated more often. */
  criticalRepeatInterval: '1h',
} as const;

export class AlertmanagerConfigError extends Error {
  override readonly name = 'AlertmanagerConfigError';
  constructor(readonly problems: readonly string[]) {
    super(`invalid Alertmanager settings:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/**
 * Whether `value` is an http(s) URL Alertmanager can post to (WHATWG URL parsing, as Node's `URL`: a port out of
 * range or a bad percent-escape in the host is not). The one check of a webhook URL: the renderer's, and the
 * Pulumi program's for the secret one before anything is created (infra/settings.ts).
 */
export function isWebhookUrl(value: string): boolean {
  try {
    const { protocol } = new URL(value);
    return protocol === 'http:' || protocol === 'https:';
  } catch {
    return false;
  }
}

/** The webhook URL alerts are delivered to: the secret one when given, else the model's. */
function webhookUrl(spec: StackSpec, secrets: AlertmanagerSecrets | undefined): string {
  const url = secrets?.alertWebhookUrl ?? spec.monitoring.alertWebhookUrl;
  if (!isWebhookUrl(url)) {
    const from = secrets?.alertWebhookUrl === undefined ? 'monitoring.alertWebhookUrl' : 'secrets.alertWebhookUrl';
    throw new AlertmanagerConfigError([`${from}: must be an http(s) URL`]);
  }
  return url;
}

/** Whether the rendered alertmanager.yml holds a secret (and must be stored like one). */
export function alertmanagerConfigContainsSecret(secrets?: AlertmanagerSecrets): boolean {
  return secrets?.alertWebhookUrl !== undefined;
}

export function renderAlertmanagerConfig(spec: StackSpec, secrets?: AlertmanagerSecrets): string {
  const g = ALERT_GROUPING;
  const config = {
    route: {
      receiver: 'operator',
      group_by: ['alertname', 'service'],
      group_wait: g.groupWait,
      group_interval: g.groupInterval,
      repeat_interval: g.repeatInterval,
      routes: [
        {
          matchers: ['severity="critical"'],
          receiver: 'operator',
          group_wait: g.criticalGroupWait,
          repeat_interval: g.criticalRepeatInterval,
        },
      ],
    },
    inhibit_rules: [
      {
        // When every API instance is down, one notification says so, not one per instance.
        source_matchers: ['alertname="ApiAllInstancesDown"'],
        target_matchers: ['alertname="ApiInstanceDown"'],
        equal: ['job'],
      },
      {
        // An API instance that is down is already reported as such.
        source_matchers: ['alertname="ApiInstanceDown"'],
        target_matchers: ['alertname="PrometheusTargetDown"'],
        equal: ['job', 'instance'],
      },
      {
        // While no node is master, lost replication links and missing replicas are its consequence.
        source_matchers: ['alertname="RedisNoMaster"'],
        target_matchers: ['alertname=~"RedisReplicationBroken|RedisReplicaMissing"'],
      },
    ],
    receivers: [{ name: 'operator', webhook_configs: [{ url: webhookUrl(spec, secrets), send_resolved: true }] }],
  };
  return stringify(config, { lineWidth: 0 });
}
