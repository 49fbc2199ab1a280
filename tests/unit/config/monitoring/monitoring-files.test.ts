import { defineStack, generateSecrets } from '../../../../config';
import { renderMonitoringFiles } from '../../../../config/render/monitoring-files';
import { metricNames, withoutGrafanaMacros } from '../../../integration/config/monitoring/promql';

describe('renderMonitoringFiles', () => {
  it('writes every monitoring file once, the rules beside prometheus.yml', () => {
    const files = renderMonitoringFiles(defineStack());
    const paths = files.map((f) => f.path);
    expect(new Set(paths).size).toBe(paths.length);
    expect(paths).toEqual(
      expect.arrayContaining([
        'prometheus/prometheus.yml',
        'prometheus/alerts.yml',
        'alertmanager/alertmanager.yml',
        'grafana/provisioning/datasources/prometheus.yml',
        'grafana/provisioning/dashboards/evergreen.yml',
        'grafana/dashboards/service.json',
        'grafana/dashboards/redis.json',
        'grafana/dashboards/nginx.json',
      ]),
    );
  });

  it('holds no secret unless a secret webhook URL is given', () => {
    const stackSecrets = generateSecrets();
    const secretValues = [...Object.values(stackSecrets.redisPasswords), ...stackSecrets.apiTokens, stackSecrets.grafanaAdminPassword];
    const files = renderMonitoringFiles(defineStack());
    expect(files.every((f) => !f.containsSecret)).toBe(true);
    for (const f of files) for (const secret of secretValues) expect(f.content).not.toContain(secret);
    const withSecret = renderMonitoringFiles(defineStack(), { alertWebhookUrl: 'https://hooks.example.org/s3cret' });
    expect(withSecret.filter((f) => f.containsSecret).map((f) => f.path)).toEqual(['alertmanager/alertmanager.yml']);
  });
});

describe('metricNames (the test scanner of PromQL)', () => {
  it('finds metric names and skips functions, aggregations, label names, keywords and strings', () => {
    expect(
      metricNames(
        'histogram_quantile(0.99, sum by (route, le) (rate(http_request_duration_seconds_bucket{job="api",route!="x"}[5m]))) > 1' +
          ' and on (route) sum by (route) (rate(http_request_duration_seconds_count{job="api"}[$__rate_interval])) > 0.1',
      ),
    ).toEqual(['http_request_duration_seconds_bucket', 'http_request_duration_seconds_count']);
    expect(metricNames('(sum(redis_up{job="sentinel"}) or vector(0)) < 2')).toEqual(['redis_up']);
    expect(
      metricNames('redis_master_repl_offset - on (instance) group_right () redis_connected_slave_offset_bytes offset 5m'),
    ).toEqual(['redis_connected_slave_offset_bytes', 'redis_master_repl_offset']);
    expect(metricNames('absent(up{job="a b"}) unless bool up')).toEqual(['up']);
  });

  it('replaces Grafana macros by durations promtool accepts', () => {
    expect(withoutGrafanaMacros('rate(x[$__rate_interval]) + increase(x[$__range])')).toBe('rate(x[1m]) + increase(x[1h])');
  });
});
