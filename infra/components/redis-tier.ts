import * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';

import { sentinelConfPath, type StackSecrets, type StackSpec } from '../../config';
import { IMAGE_FACTS } from '../images';
import type { StackFiles } from '../rendered';
import type { MemoryLimits } from '../settings';
import { dataVolume, pulledImage } from './shared';
import { serviceContainer, type LogRotation } from './service-container';

export interface RedisTierArgs {
  readonly spec: StackSpec;
  readonly files: StackFiles;
  readonly secrets: pulumi.Output<StackSecrets>;
  readonly networkName: pulumi.Input<string>;
  readonly memoryMb: MemoryLimits;
  readonly log: LogRotation;
}

/** redis-cli PING as the read-only `exporter` user (password in REDISCLI_AUTH); `-e`: an error reply fails. */
export function redisHealthCheck(port: number): string[] {
  const cli = IMAGE_FACTS.redis.healthTool as string;
  return ['CMD', cli, '-h', '127.0.0.1', '-p', String(port), '--user', 'exporter', '-e', 'PING'];
}

/**
 * Redis: the master, its replicas and the Sentinels that watch them.
 *
 * Each Redis node keeps its RDB and AOF on a named volume, and its redis.conf there too: on a failover
 * Sentinel has the nodes rewrite their config (REPLICAOF + CONFIG REWRITE), and the rewritten role must
 * survive a restart of the container. Each Sentinel likewise rewrites its sentinel.conf in its data
 * directory. The uploaded files are the renderers' seed; re-creating a container (a changed file)
 * uploads the seed again.
 */
export class RedisTier extends pulumi.ComponentResource {
  public readonly nodes: docker.Container[];
  public readonly sentinels: docker.Container[];
  public readonly volumes: docker.Volume[];

  constructor(name: string, args: RedisTierArgs, opts?: pulumi.ComponentResourceOptions) {
    super('evergreen:redis:RedisTier', name, {}, opts);
    const { spec, files } = args;
    const image = pulledImage(`${name}-image`, spec.images.redis, this);
    const healthAuth = { REDISCLI_AUTH: args.secrets.apply((s) => s.redisPasswords.exporter) };

    this.volumes = [];
    this.nodes = spec.redis.nodes.map((node) => {
      const volume = dataVolume(`${name}-${node.name}-data`, spec, node, this);
      this.volumes.push(volume);
      const confPath = `${node.dataDir}/redis.conf`;
      return serviceContainer(
        `${name}-${node.name}`,
        {
          spec,
          instance: node,
          facts: IMAGE_FACTS.redis,
          image: image.imageId,
          networkName: args.networkName,
          args: [confPath],
          files: [{ path: confPath, file: files.get(`redis/${node.name}.conf`) }],
          secretEnv: healthAuth,
          healthcheck: redisHealthCheck(node.port),
          memoryMb: args.memoryMb.redis,
          log: args.log,
          volumes: [{ volumeName: volume.name, containerPath: node.dataDir }],
        },
        { parent: this },
      );
    });

    this.sentinels = spec.sentinel.instances.map((sentinel) => {
      const confPath = sentinelConfPath(sentinel);
      return serviceContainer(
        `${name}-${sentinel.name}`,
        {
          spec,
          instance: sentinel,
          facts: IMAGE_FACTS.sentinel,
          image: image.imageId,
          networkName: args.networkName,
          args: [confPath],
          files: [{ path: confPath, file: files.get(`sentinel/${sentinel.name}.conf`) }],
          secretEnv: healthAuth,
          healthcheck: redisHealthCheck(sentinel.port),
          memoryMb: args.memoryMb.sentinel,
          log: args.log,
        },
        { parent: this },
      );
    });

    this.registerOutputs({
      nodes: this.nodes.map((c) => c.name),
      sentinels: this.sentinels.map((c) => c.name),
    });
  }
}
