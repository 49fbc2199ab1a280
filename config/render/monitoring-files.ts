/**
 * Every monitoring file of a stack, with the path it is deployed under (relative to the render
 * output; the container mounts are the infra's business):
 *
 *   prometheus/prometheus.yml                        renderPrometheusConfig
 *   prometheus/alerts.yml                            renderAlertRules (beside prometheus.yml, which names it)
 *   alertmanager/alertmanager.yml                    renderAlertmanagerConfig
 *   grafana/provisioning/datasources/prometheus.yml  renderGrafanaDatasources
 *   grafana/provisioning/dashboards/evergreen.yml    renderGrafanaDashboardProvider
 *   grafana/dashboards/<name>.json                   one per dashboard (mounted at GRAFANA_DASHBOARDS_DIR)
 */
import type { StackSpec } from '../model';
import { alertmanagerConfigContainsSecret, renderAlertmanagerConfig, type AlertmanagerSecrets } from './alertmanager';
import { grafanaDashboards, renderDashboard, renderGrafanaDashboardProvider, renderGrafanaDatasources } from './grafana';
import { ALERT_RULES_FILE, renderPrometheusConfig } from './prometheus';
import { renderAlertRules } from './rules';

/** Same shape as config's `RenderedFile`. */
export interface MonitoringFile {
  readonly service: 'prometheus' | 'alertmanager' | 'grafana';
  readonly path: string;
  readonly content: string;
  readonly containsSecret: boolean;
}

export function renderMonitoringFiles(spec: StackSpec, secrets?: AlertmanagerSecrets): MonitoringFile[] {
  const file = (service: MonitoringFile['service'], path: string, content: string, containsSecret = false) => ({
    service,
    path,
    content,
    containsSecret,
  });
  return [
    file('prometheus', 'prometheus/prometheus.yml', renderPrometheusConfig(spec)),
    file('prometheus', `prometheus/${ALERT_RULES_FILE}`, renderAlertRules(spec)),
    file(
      'alertmanager',
      'alertmanager/alertmanager.yml',
      renderAlertmanagerConfig(spec, secrets),
      alertmanagerConfigContainsSecret(secrets),
    ),
    file('grafana', 'grafana/provisioning/datasources/prometheus.yml', renderGrafanaDatasources(spec)),
    file('grafana', 'grafana/provisioning/dashboards/evergreen.yml', renderGrafanaDashboardProvider()),
    ...Object.entries(grafanaDashboards()).map(([name, dashboard]) =>
      file('grafana', `grafana/dashboards/${name}`, renderDashboard(dashboard)),
    ),
  ];
}
