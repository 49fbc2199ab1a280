import { posix } from 'node:path';
import { Chart, Duration } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import type { Construct } from 'constructs';
import type { StackSpec } from '../../../config';
import {
  ALERT_RULES_FILE,
  GRAFANA_DASHBOARDS_DIR,
  GRAFANA_PROVISIONING_DIR,
  prometheusCommandArgs,
  renderMonitoringFiles,
  type MonitoringFile,
} from '../../../config/render';
import { IMAGE_FACTS } from '../../images';
import { selectorLabels, workloadLabels, type Workload } from '../labels';
import {
  addVolumeClaimTemplate,
  configHash,
  containerResources,
  fromSecret,
  hardenPodTemplate,
  imagePullPolicy,
  probeTiming,
  restrictedContainer,
  restrictedPod,
  scratchVolume,
  selectPods,
  type RunAs,
} from '../pods';
import type { ManifestProps } from '../props';

export interface MonitoringChartProps {
  readonly spec: StackSpec;
  readonly manifest: ManifestProps;
}

/** The rendered file at `path` (relative, as `renderMonitoringFiles` names it). */
function fileAt(files: readonly MonitoringFile[], path: string): MonitoringFile {
  const file = files.find((f) => f.path === path);
  if (!file) throw new Error(`the monitoring renderers produced no ${path}`);
  return file;
}

/**
 * Prometheus, Alertmanager and Grafana, each a one-pod StatefulSet with its own volume, configured by
 * the same renderers as the Docker deployment: prometheus.yml (API pods found through the `api-pods`
 * headless Service, everything else at its stable Service name) with the alert rules, alertmanager.yml,
 * and Grafana's datasource, dashboard provider and dashboards.
 */
export class MonitoringChart extends Chart {
  constructor(scope: Construct, id: string, props: MonitoringChartProps) {
    const { spec, manifest } = props;
    super(scope, id, { namespace: spec.kubernetes.namespace });
    const stack = spec.name;
    const files = renderMonitoringFiles(spec);
    for (const file of files) {
      if (file.containsSecret) throw new Error(`${file.path} holds a secret and cannot go into a ConfigMap`);
    }
    const m = spec.monitoring;

    // ---- Prometheus ----------------------------------------------------------------------------
    {
      const facts = IMAGE_FACTS.prometheus;
      const labels = workloadLabels(stack, 'prometheus', spec.images.prometheus);
      const configDir = facts.configDir;
      const dataDir = facts.dataDir ?? '/prometheus';
      const config = new kplus.ConfigMap(this, 'prometheus-config', {
        metadata: { name: 'prometheus-config', labels },
        data: {
          'prometheus.yml': fileAt(files, 'prometheus/prometheus.yml').content,
          [ALERT_RULES_FILE]: fileAt(files, `prometheus/${ALERT_RULES_FILE}`).content,
        },
      });
      const configVolume = kplus.Volume.fromConfigMap(this, 'prometheus-config-volume', config, {
        name: 'config',
        defaultMode: 0o444,
      });
      const port = m.prometheus.port;
      this.statefulSet('prometheus', {
        stack,
        labels,
        runAs: { user: facts.user.uid, group: facts.user.gid },
        port,
        storage: { size: manifest.storage.prometheus, path: dataDir },
        manifest,
        configs: Object.values(config.data),
        volumes: [configVolume],
        container: {
          name: 'prometheus',
          image: spec.images.prometheus,
          command: [facts.binary],
          args: prometheusCommandArgs(spec, { configFile: posix.join(configDir, 'prometheus.yml'), dataDir }),
          resources: containerResources(manifest.resources.prometheus),
          volumeMounts: [{ path: configDir, volume: configVolume, readOnly: true }],
          readiness: kplus.Probe.fromHttpGet('/-/ready', { port, ...probeTiming(10) }),
          liveness: kplus.Probe.fromHttpGet('/-/healthy', { port, ...probeTiming(15) }),
          // Replaying the write-ahead log after a restart can take minutes.
          startup: kplus.Probe.fromHttpGet('/-/ready', { port, ...probeTiming(5, 120) }),
        },
      });
    }

    // ---- Alertmanager --------------------------------------------------------------------------
    {
      const facts = IMAGE_FACTS.alertmanager;
      const labels = workloadLabels(stack, 'alertmanager', spec.images.alertmanager);
      const configDir = facts.configDir;
      const dataDir = facts.dataDir ?? '/alertmanager';
      const port = m.alertmanager.port;
      // A receiver URL that carries a token belongs in a Secret: then that Secret replaces the ConfigMap.
      const configVolume =
        manifest.secrets.alertmanagerConfig === undefined
          ? kplus.Volume.fromConfigMap(
              this,
              'alertmanager-config-volume',
              new kplus.ConfigMap(this, 'alertmanager-config', {
                metadata: { name: 'alertmanager-config', labels },
                data: { 'alertmanager.yml': fileAt(files, 'alertmanager/alertmanager.yml').content },
              }),
              { name: 'config', defaultMode: 0o444 },
            )
          : kplus.Volume.fromSecret(
              this,
              'alertmanager-config-volume',
              kplus.Secret.fromSecretName(this, 'alertmanager-config-secret', manifest.secrets.alertmanagerConfig),
              { name: 'config', defaultMode: 0o440 },
            );
      this.statefulSet('alertmanager', {
        stack,
        labels,
        runAs: { user: facts.user.uid, group: facts.user.gid },
        port,
        storage: { size: manifest.storage.alertmanager, path: dataDir },
        manifest,
        configs: [fileAt(files, 'alertmanager/alertmanager.yml').content, manifest.secrets.alertmanagerConfig ?? ''],
        volumes: [configVolume],
        container: {
          name: 'alertmanager',
          image: spec.images.alertmanager,
          command: [facts.binary],
          args: [
            `--config.file=${posix.join(configDir, 'alertmanager.yml')}`,
            `--storage.path=${dataDir}`,
            `--web.listen-address=:${port}`,
            // One Alertmanager: no gossip cluster to join (and no port to open for it).
            '--cluster.listen-address=',
          ],
          resources: containerResources(manifest.resources.alertmanager),
          volumeMounts: [{ path: configDir, volume: configVolume, readOnly: true }],
          readiness: kplus.Probe.fromHttpGet('/-/ready', { port, ...probeTiming(10) }),
          liveness: kplus.Probe.fromHttpGet('/-/healthy', { port, ...probeTiming(15) }),
          startup: kplus.Probe.fromHttpGet('/-/ready', { port, ...probeTiming(2, 30) }),
        },
      });
    }

    // ---- Grafana -------------------------------------------------------------------------------
    {
      const facts = IMAGE_FACTS.grafana;
      const labels = workloadLabels(stack, 'grafana', spec.images.grafana);
      const dataDir = facts.dataDir ?? '/var/lib/grafana';
      const port = m.grafana.port;
      const provisioningPrefix = 'grafana/provisioning/';
      const dashboardsPrefix = 'grafana/dashboards/';
      const provisioningFiles = files.filter((f) => f.path.startsWith(provisioningPrefix));
      // ConfigMap keys cannot hold '/': `datasources/prometheus.yml` is stored as `datasources.prometheus.yml`
      // and put back at its path by the volume's items.
      const keyOf = (relative: string): string => relative.replaceAll('/', '.');
      const provisioning = new kplus.ConfigMap(this, 'grafana-provisioning', {
        metadata: { name: 'grafana-provisioning', labels },
        data: Object.fromEntries(provisioningFiles.map((f) => [keyOf(f.path.slice(provisioningPrefix.length)), f.content])),
      });
      const provisioningVolume = kplus.Volume.fromConfigMap(this, 'grafana-provisioning-volume', provisioning, {
        name: 'provisioning',
        defaultMode: 0o444,
        items: Object.fromEntries(
          provisioningFiles.map((f) => {
            const relative = f.path.slice(provisioningPrefix.length);
            return [keyOf(relative), { path: relative }];
          }),
        ),
      });
      const dashboards = new kplus.ConfigMap(this, 'grafana-dashboards', {
        metadata: { name: 'grafana-dashboards', labels },
        data: Object.fromEntries(
          files.filter((f) => f.path.startsWith(dashboardsPrefix)).map((f) => [f.path.slice(dashboardsPrefix.length), f.content]),
        ),
      });
      const dashboardsVolume = kplus.Volume.fromConfigMap(this, 'grafana-dashboards-volume', dashboards, {
        name: 'dashboards',
        defaultMode: 0o444,
      });
      const logs = scratchVolume(this, 'grafana-logs', 'logs');
      const tmp = scratchVolume(this, 'grafana-tmp', 'tmp');
      // The image's user is 472 in group root; here it runs in its own group 472 (nothing as root).
      const runAs = { user: facts.user.uid, group: facts.user.uid };
      const env = (value: string) => kplus.EnvValue.fromValue(value);
      this.statefulSet('grafana', {
        stack,
        labels,
        runAs,
        port,
        storage: { size: manifest.storage.grafana, path: dataDir },
        manifest,
        configs: [...Object.values(provisioning.data), ...Object.values(dashboards.data)],
        volumes: [provisioningVolume, dashboardsVolume, logs, tmp],
        container: {
          name: 'grafana',
          image: spec.images.grafana,
          command: [facts.binary, 'server', '--homepath=/usr/share/grafana', `--config=${facts.configDir}/grafana.ini`],
          envVariables: {
            GF_PATHS_DATA: env(dataDir),
            GF_PATHS_LOGS: env('/var/log/grafana'),
            GF_PATHS_PLUGINS: env(`${dataDir}/plugins`),
            GF_PATHS_PROVISIONING: env(GRAFANA_PROVISIONING_DIR),
            GF_SERVER_HTTP_PORT: env(String(port)),
            GF_SECURITY_ADMIN_USER: env(m.grafanaAdminUser),
            GF_SECURITY_ADMIN_PASSWORD: fromSecret(this, manifest.secrets.grafanaAdmin, 'password'),
            // No calls home: the NetworkPolicies allow Grafana no egress but to Prometheus.
            GF_ANALYTICS_REPORTING_ENABLED: env('false'),
            GF_ANALYTICS_CHECK_FOR_UPDATES: env('false'),
            GF_ANALYTICS_CHECK_FOR_PLUGIN_UPDATES: env('false'),
            GF_USERS_ALLOW_SIGN_UP: env('false'),
          },
          resources: containerResources(manifest.resources.grafana),
          volumeMounts: [
            { path: GRAFANA_PROVISIONING_DIR, volume: provisioningVolume, readOnly: true },
            { path: GRAFANA_DASHBOARDS_DIR, volume: dashboardsVolume, readOnly: true },
            { path: '/var/log/grafana', volume: logs },
            { path: '/tmp', volume: tmp },
          ],
          readiness: kplus.Probe.fromHttpGet('/api/health', { port, ...probeTiming(10) }),
          liveness: kplus.Probe.fromHttpGet('/api/health', { port, ...probeTiming(15) }),
          // Database migrations on first start / upgrade.
          startup: kplus.Probe.fromHttpGet('/api/health', { port, ...probeTiming(5, 60) }),
        },
      });
    }
  }

  /** A one-pod StatefulSet with a Service, a volume claim for its data and the restricted pod settings. */
  private statefulSet(
    workload: Extract<Workload, 'prometheus' | 'alertmanager' | 'grafana'>,
    options: {
      readonly stack: string;
      readonly labels: Record<string, string>;
      readonly runAs: RunAs;
      readonly port: number;
      readonly storage: { readonly size: string; readonly path: string };
      readonly manifest: ManifestProps;
      readonly volumes: kplus.Volume[];
      readonly container: kplus.ContainerProps;
      /** The configs the pod reads (their hash rolls the pod when they change). */
      readonly configs: readonly string[];
    },
  ): kplus.StatefulSet {
    const { labels, runAs, port, manifest, stack } = options;
    const service = new kplus.Service(this, `${workload}-service`, {
      metadata: { name: workload, labels },
      ports: [{ name: 'http', port, targetPort: port }],
    });
    selectPods(service, selectorLabels(stack, workload));
    const statefulSet = new kplus.StatefulSet(this, workload, {
      metadata: { name: workload, labels },
      podMetadata: { labels, annotations: configHash(...options.configs) },
      select: false,
      service,
      replicas: 1,
      securityContext: restrictedPod(runAs),
      automountServiceAccountToken: false,
      terminationGracePeriod: Duration.seconds(30),
      volumes: options.volumes,
      containers: [
        {
          ...options.container,
          imagePullPolicy: imagePullPolicy(manifest),
          ports: [{ name: 'http', number: port }],
          securityContext: restrictedContainer(runAs),
        },
      ],
    });
    statefulSet.select(kplus.LabelSelector.of({ labels: selectorLabels(stack, workload) }));
    addVolumeClaimTemplate(statefulSet, {
      name: 'data',
      size: options.storage.size,
      storageClassName: manifest.storageClassName,
      labels,
      mounts: [{ container: 0, path: options.storage.path }],
    });
    hardenPodTemplate(statefulSet);
    return statefulSet;
  }
}
