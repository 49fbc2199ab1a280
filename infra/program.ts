/**
 * The Evergreen Stores stack on one Docker host: the Pulumi program.
 *
 * infra/index.ts hands `evergreenProgram` to Pulumi (an exported function is what Pulumi runs, and its
 * result is the stack outputs); the tests run the same function under Pulumi's mocks
 * (tests/support/pulumi-harness.ts). The program keeps no module-level state, so every run starts from
 * the stack config alone.
 */
import * as pulumi from '@pulumi/pulumi';

import { ApiTier } from './components/api-tier';
import { Gateway } from './components/gateway';
import { Monitoring } from './components/monitoring';
import { StackNetwork } from './components/network';
import { RedisTier } from './components/redis-tier';
import { StackSecretsComponent } from './components/secrets';
import { StackFiles } from './rendered';
import { PROJECT_NAME, readSettings } from './settings';

export { PROJECT_NAME };

/** The stack outputs. The two that are secrets are Pulumi secrets (encrypted, never shown unasked). */
export interface EvergreenOutputs {
  /** Where the store's API is served (nginx). */
  readonly publicUrl: pulumi.Output<string>;
  /** Grafana on the Docker host's loopback, when publishGrafana. */
  readonly grafanaUrl?: pulumi.Output<string>;
  /** Prometheus on the Docker host's loopback, when publishPrometheus. */
  readonly prometheusUrl?: pulumi.Output<string>;
  readonly networkName: pulumi.Output<string>;
  /** Container name of every instance, by instance name (`api-0`, `redis-1`, `sentinel-2`…). */
  readonly containers: pulumi.Output<Record<string, string>>;
  /** The Sentinel master group name (for `npm run backup` and operators). */
  readonly redisMasterName: string;
  /**
   * Secret outputs, encrypted in the state and shown only on request
   * (`pulumi stack output apiToken --show-secrets`): a bearer token the API accepts, Grafana's admin password.
   */
  readonly apiToken: pulumi.Output<string>;
  readonly grafanaAdminPassword: pulumi.Output<string>;
}

export async function evergreenProgram(): Promise<Record<string, unknown>> {
  // Invalid settings throw here, before any resource is registered.
  const settings = readSettings();
  const { spec } = settings;

  const secrets = new StackSecretsComponent('secrets', { configured: settings.configuredSecrets });
  const files = new StackFiles(spec, secrets.values, settings.configuredSecrets.alertWebhookSecretUrl !== undefined);
  const network = new StackNetwork('network', { spec });
  const common = { spec, files, networkName: network.name, log: settings.log };

  const redis = new RedisTier('redis', { ...common, secrets: secrets.values, memoryMb: settings.memoryMb });
  const api = new ApiTier('api', {
    ...common,
    secrets: secrets.values,
    build: settings.apiBuild,
    baseImage: settings.apiBaseImage,
    memoryMb: settings.memoryMb.api,
  });
  const gateway = new Gateway('gateway', {
    ...common,
    publicBindAddress: settings.publicBindAddress,
    memoryMb: settings.memoryMb.gateway,
    apiContainers: api.containers,
  });
  const monitoring = new Monitoring('monitoring', { ...common, secrets: secrets.values, memoryMb: settings.memoryMb });

  const all = [
    gateway.container,
    ...api.containers,
    ...redis.nodes,
    ...redis.sentinels,
    ...monitoring.exporters,
    monitoring.prometheus,
    monitoring.alertmanager,
    monitoring.grafana,
  ];
  const instanceNames = [
    spec.gateway.instance.name,
    ...spec.api.instanceList.map((i) => i.name),
    ...spec.redis.nodes.map((i) => i.name),
    ...spec.sentinel.instances.map((i) => i.name),
    ...spec.monitoring.redisExporters.map((i) => i.name),
    ...spec.monitoring.sentinelExporters.map((i) => i.name),
    spec.monitoring.nginxExporter.name,
    spec.monitoring.prometheus.name,
    spec.monitoring.alertmanager.name,
    spec.monitoring.grafana.name,
  ];
  const host = settings.publicBindAddress === '0.0.0.0' ? 'localhost' : settings.publicBindAddress;
  const outputs: EvergreenOutputs = {
    publicUrl: gateway.container.name.apply(() => `http://${host}:${spec.gateway.publishedPort}`),
    ...(spec.monitoring.publishGrafana
      ? { grafanaUrl: monitoring.grafana.name.apply(() => `http://127.0.0.1:${spec.monitoring.grafana.port}`) }
      : {}),
    ...(spec.monitoring.publishPrometheus
      ? { prometheusUrl: monitoring.prometheus.name.apply(() => `http://127.0.0.1:${spec.monitoring.prometheus.port}`) }
      : {}),
    networkName: network.name,
    containers: pulumi
      .all(all.map((c) => c.name))
      .apply((names) => Object.fromEntries(names.map((n, i) => [instanceNames[i] as string, n]))),
    redisMasterName: spec.redis.masterName,
    apiToken: pulumi.secret(secrets.values.apply((s) => s.apiTokens[0] ?? '')),
    grafanaAdminPassword: pulumi.secret(secrets.values.apply((s) => s.grafanaAdminPassword)),
  };
  return { ...outputs };
}
