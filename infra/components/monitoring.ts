import type * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';

import { prometheusCommandArgs, type ExporterInstance, type StackSecrets, type StackSpec } from '../../config';
import { IMAGE_FACTS, wgetHealthCheck, type ImageFacts } from '../images';
import { secretValueFile, type StackFile, type StackFiles } from '../rendered';
import type { MemoryLimits } from '../settings';
import { dataVolume, pulledImage } from './shared';
import { serviceContainer, type ContainerFile, type LogRotation } from './service-container';

export interface MonitoringArgs {
  readonly spec: StackSpec;
  readonly files: StackFiles;
  readonly secrets: pulumi.Output<StackSecrets>;
  readonly networkName: pulumi.Input<string>;
  readonly memoryMb: MemoryLimits;
  readonly log: LogRotation;
}

/** Where Grafana reads its admin password from (GF_SECURITY_ADMIN_PASSWORD__FILE): a secret upload, not env. */
export const GRAFANA_ADMIN_PASSWORD_FILE = '/etc/grafana/secrets/admin-password';

/**
 * A rendered file of a monitoring service in its container: `<service>/<rest>` goes to
 * `<configDir>/<rest>` (prometheus.yml and alerts.yml side by side, Grafana's provisioning/ and
 * dashboards/ under /etc/grafana).
 */
export function monitoringFilePath(file: StackFile, facts: ImageFacts): string {
  const rest = file.path.split('/').slice(1).join('/');
  return `${facts.configDir}/${rest}`;
}

/**
 * Prometheus (with its alert rules), Alertmanager, Grafana (provisioned datasource and dashboards) and
 * the exporters Prometheus scrapes nginx, Redis and the Sentinels through. Prometheus, Alertmanager
 * and Grafana keep their data on named volumes. Prometheus and Grafana are published on 127.0.0.1 of
 * the Docker host only when configured (publishPrometheus / publishGrafana), never on other addresses.
 */
export class Monitoring extends pulumi.ComponentResource {
  public readonly prometheus: docker.Container;
  public readonly alertmanager: docker.Container;
  public readonly grafana: docker.Container;
  public readonly exporters: docker.Container[];
  public readonly volumes: docker.Volume[];

  constructor(name: string, args: MonitoringArgs, opts?: pulumi.ComponentResourceOptions) {
    super('evergreen:monitoring:Monitoring', name, {}, opts);
    const { spec, files, log } = args;
    const mon = spec.monitoring;
    const exporterPassword = args.secrets.apply((s) => s.redisPasswords.exporter);

    const filesOf = (instanceName: string, facts: ImageFacts): ContainerFile[] =>
      files.forService(instanceName).map((file) => ({ path: monitoringFilePath(file, facts), file }));
    const publishedOnLoopback = (publish: boolean, port: number) =>
      publish ? [{ internal: port, external: port, ip: '127.0.0.1' }] : [];

    // --- exporters ---
    const redisExporterImage = pulledImage(`${name}-redis-exporter-image`, spec.images.redisExporter, this);
    const redisExporter = (exporter: ExporterInstance): docker.Container =>
      serviceContainer(
        `${name}-${exporter.name}`,
        {
          spec,
          instance: exporter,
          facts: IMAGE_FACTS[exporter.service],
          image: redisExporterImage.imageId,
          networkName: args.networkName,
          args: [
            `--redis.addr=redis://${exporter.target.host}:${exporter.target.port}`,
            '--redis.user=exporter',
            `--web.listen-address=:${exporter.port}`,
          ],
          // The password as REDIS_PASSWORD (read by redis_exporter), not a flag: flags show in `ps`.
          secretEnv: { REDIS_PASSWORD: exporterPassword },
          memoryMb: args.memoryMb.exporter,
          log,
        },
        { parent: this },
      );
    const nginxExporterImage = pulledImage(`${name}-nginx-exporter-image`, spec.images.nginxExporter, this);
    const nginxExporter = serviceContainer(
      `${name}-${mon.nginxExporter.name}`,
      {
        spec,
        instance: mon.nginxExporter,
        facts: IMAGE_FACTS['nginx-exporter'],
        image: nginxExporterImage.imageId,
        networkName: args.networkName,
        args: [
          `--nginx.scrape-uri=http://${spec.gateway.status.host}:${spec.gateway.status.port}/stub_status`,
          `--web.listen-address=:${mon.nginxExporter.port}`,
        ],
        memoryMb: args.memoryMb.exporter,
        log,
      },
      { parent: this },
    );
    this.exporters = [...mon.redisExporters.map(redisExporter), ...mon.sentinelExporters.map(redisExporter), nginxExporter];

    this.volumes = [];
    const volumeFor = (instance: typeof mon.prometheus) => {
      const volume = dataVolume(`${name}-${instance.name}-data`, spec, instance, this);
      this.volumes.push(volume);
      return volume;
    };

    // --- Prometheus ---
    const prometheusFacts = IMAGE_FACTS.prometheus;
    const prometheusConfig = `${prometheusFacts.configDir}/prometheus.yml`;
    const prometheusData = prometheusFacts.dataDir as string;
    const prometheusImage = pulledImage(`${name}-prometheus-image`, spec.images.prometheus, this);
    this.prometheus = serviceContainer(
      `${name}-prometheus`,
      {
        spec,
        instance: mon.prometheus,
        facts: prometheusFacts,
        image: prometheusImage.imageId,
        networkName: args.networkName,
        args: prometheusCommandArgs(spec, { configFile: prometheusConfig, dataDir: prometheusData }),
        files: filesOf(mon.prometheus.name, prometheusFacts),
        healthcheck: wgetHealthCheck(prometheusFacts.healthTool as string, `http://127.0.0.1:${mon.prometheus.port}/-/healthy`),
        memoryMb: args.memoryMb.prometheus,
        log,
        volumes: [{ volumeName: volumeFor(mon.prometheus).name, containerPath: prometheusData }],
        ports: publishedOnLoopback(mon.publishPrometheus, mon.prometheus.port),
      },
      { parent: this },
    );

    // --- Alertmanager ---
    const amFacts = IMAGE_FACTS.alertmanager;
    const amData = amFacts.dataDir as string;
    const alertmanagerImage = pulledImage(`${name}-alertmanager-image`, spec.images.alertmanager, this);
    this.alertmanager = serviceContainer(
      `${name}-alertmanager`,
      {
        spec,
        instance: mon.alertmanager,
        facts: amFacts,
        image: alertmanagerImage.imageId,
        networkName: args.networkName,
        args: [
          `--config.file=${amFacts.configDir}/alertmanager.yml`,
          `--storage.path=${amData}`,
          `--web.listen-address=:${mon.alertmanager.port}`,
          // One Alertmanager: no gossip cluster (it would otherwise listen on 9094 for peers).
          '--cluster.listen-address=',
        ],
        files: filesOf(mon.alertmanager.name, amFacts),
        healthcheck: wgetHealthCheck(amFacts.healthTool as string, `http://127.0.0.1:${mon.alertmanager.port}/-/healthy`),
        memoryMb: args.memoryMb.alertmanager,
        log,
        volumes: [{ volumeName: volumeFor(mon.alertmanager).name, containerPath: amData }],
      },
      { parent: this },
    );

    // --- Grafana ---
    const grafanaFacts = IMAGE_FACTS.grafana;
    const grafanaData = grafanaFacts.dataDir as string;
    const grafanaImage = pulledImage(`${name}-grafana-image`, spec.images.grafana, this);
    const adminPassword = secretValueFile(
      'grafana/secrets/admin-password',
      mon.grafana.name,
      args.secrets.apply((s) => s.grafanaAdminPassword),
      '(grafana admin password)',
    );
    this.grafana = serviceContainer(
      `${name}-grafana`,
      {
        spec,
        instance: mon.grafana,
        facts: grafanaFacts,
        image: grafanaImage.imageId,
        networkName: args.networkName,
        args: ['server', '--homepath=/usr/share/grafana', `--config=${grafanaFacts.configDir}/grafana.ini`],
        files: [...filesOf(mon.grafana.name, grafanaFacts), { path: GRAFANA_ADMIN_PASSWORD_FILE, file: adminPassword }],
        env: {
          GF_PATHS_DATA: grafanaData,
          GF_PATHS_PLUGINS: `${grafanaData}/plugins`,
          GF_PATHS_PROVISIONING: `${grafanaFacts.configDir}/provisioning`,
          GF_SERVER_HTTP_PORT: String(mon.grafana.port),
          GF_SECURITY_ADMIN_USER: mon.grafanaAdminUser,
          GF_SECURITY_ADMIN_PASSWORD__FILE: GRAFANA_ADMIN_PASSWORD_FILE,
          GF_USERS_ALLOW_SIGN_UP: 'false',
          GF_ANALYTICS_REPORTING_ENABLED: 'false',
          GF_ANALYTICS_CHECK_FOR_UPDATES: 'false',
        },
        healthcheck: wgetHealthCheck(grafanaFacts.healthTool as string, `http://127.0.0.1:${mon.grafana.port}/api/health`),
        memoryMb: args.memoryMb.grafana,
        log,
        volumes: [{ volumeName: volumeFor(mon.grafana).name, containerPath: grafanaData }],
        ports: publishedOnLoopback(mon.publishGrafana, mon.grafana.port),
      },
      { parent: this, dependsOn: [this.prometheus] },
    );

    this.registerOutputs({
      prometheus: this.prometheus.name,
      alertmanager: this.alertmanager.name,
      grafana: this.grafana.name,
      exporters: this.exporters.map((c) => c.name),
    });
  }
}
