/**
 * Every rendered file of a stack. Each renderer is a pure function of the spec (and the secrets it
 * needs); `renderAll` lists them with the relative path `npm run render` writes them to and the
 * Pulumi / cdk8s programs deploy them from.
 */
import type { StackSpec } from '../model';
import { secretProblems, type StackSecrets } from '../secrets';
import { StackValidationError } from '../validate';
import { renderApiEnvFile } from './api-env';
import { renderMonitoringFiles } from './monitoring-files';
import { renderNginxConf } from './nginx';
import { renderRedisConf } from './redis';
import { renderSentinelConf } from './sentinel';

export interface RenderedFile {
  /** The instance (container / pod / loopback process) that reads the file: `redis-1`, `gateway`, `prometheus`… */
  readonly service: string;
  /** Path relative to the output directory, e.g. `redis/redis-0.conf`. */
  readonly path: string;
  readonly content: string;
  /** True when `content` holds a secret (ACL passwords, tokens): store and ship it as a secret. */
  readonly containsSecret: boolean;
}

export function renderAll(spec: StackSpec, secrets: StackSecrets): RenderedFile[] {
  const problems = secretProblems(secrets);
  if (problems.length > 0) throw new StackValidationError(problems.map((p) => `secrets.${p}`));
  return [
    ...spec.redis.nodes.map((node) => ({
      service: node.name,
      path: `redis/${node.name}.conf`,
      content: renderRedisConf(spec, secrets, node),
      containsSecret: true,
    })),
    ...spec.sentinel.instances.map((sentinel) => ({
      service: sentinel.name,
      path: `sentinel/${sentinel.name}.conf`,
      content: renderSentinelConf(spec, secrets, sentinel),
      containsSecret: true,
    })),
    { service: spec.gateway.instance.name, path: 'nginx/nginx.conf', content: renderNginxConf(spec), containsSecret: false },
    ...spec.api.instanceList.map((api) => ({
      service: api.name,
      path: `api/${api.name}.env`,
      content: renderApiEnvFile(spec, secrets, api.index),
      containsSecret: true,
    })),
    ...renderMonitoringFiles(
      spec,
      secrets.alertWebhookUrl === undefined ? undefined : { alertWebhookUrl: secrets.alertWebhookUrl },
    ),
  ];
}

export * from './acl';
export * from './api-env';
export * from './nginx';
export * from './redis';
export * from './sentinel';
export * from './monitoring-files';
export * from './prometheus';
export * from './rules';
export * from './alertmanager';
export * from './grafana';
