import { readFileSync } from 'node:fs';
import * as path from 'node:path';

import * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';

import { sentinelConfPath, type StackSecrets, type StackSpec } from '../../config';
import { IMAGE_FACTS } from '../images';
import { secretValueFile, type StackFiles } from '../rendered';
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

/**
 * The start-up script the Kubernetes pods run too (infra/k8s/scripts/redis-start.sh): before starting
 * redis-server or redis-sentinel it asks the Sentinels (else the other nodes) which node is the
 * master and writes the role into the config it starts with. A replaced container (a changed file)
 * therefore rejoins in the role the stack has now, not the one of the first start.
 */
export const START_SCRIPT_SOURCE = path.resolve(__dirname, '..', 'k8s', 'scripts', 'redis-start.sh');
/** Where the script and the rendered config (its template) are uploaded. */
export const START_DIR = '/usr/local/etc/evergreen';
const START_SCRIPT = `${START_DIR}/redis-start.sh`;
/** The password redis-start.sh asks the Sentinels and nodes with (REDIS_QUERY_PASSWORD_FILE). */
const QUERY_PASSWORD_FILE = `${START_DIR}/query-password`;
/** Time a Redis node gets to stop (a snapshot of up to `maxmemory` and the AOF's fsync) before it is killed. */
const REDIS_STOP_GRACE_SECONDS = 60;

/** redis-cli PING as the read-only `exporter` user (password in REDISCLI_AUTH); `-e`: an error reply fails. */
export function redisHealthCheck(port: number): string[] {
  const cli = IMAGE_FACTS.redis.healthTool as string;
  return ['CMD', cli, '-h', '127.0.0.1', '-p', String(port), '--user', 'exporter', '-e', 'PING'];
}

/**
 * Redis: the master, its replicas and the Sentinels that watch them.
 *
 * Each Redis node keeps its RDB and AOF on a named volume, and its live redis.conf there too: on a
 * failover Sentinel has the nodes rewrite their config (REPLICAOF + CONFIG REWRITE), and the rewritten
 * role must survive a restart of the container. Each Sentinel likewise rewrites its sentinel.conf (the
 * current master after a failover, its epochs) in its data directory, on a named volume of its own:
 * when every container starts at once (a reboot of the host) no one answers anybody, and
 * redis-start.sh then has each Sentinel monitor the master it saved there rather than pod 0. The
 * image's anonymous /data volume would survive a restart but not a re-created container. The rendered
 * files are uploaded as templates; at every start redis-start.sh (shared with the Kubernetes pods)
 * writes the live file from the template and the role the Sentinels name, so a re-created container
 * (a changed file) rejoins as what the stack has now.
 */
export class RedisTier extends pulumi.ComponentResource {
  public readonly nodes: docker.Container[];
  public readonly sentinels: docker.Container[];
  public readonly volumes: docker.Volume[];

  constructor(name: string, args: RedisTierArgs, opts?: pulumi.ComponentResourceOptions) {
    super('evergreen:redis:RedisTier', name, {}, opts);
    const { spec, files } = args;
    const image = pulledImage(`${name}-image`, spec.images.redis, this);

    const script = readFileSync(START_SCRIPT_SOURCE, 'utf8');
    const scriptFile = { path: 'redis-start.sh', service: 'redis', containsSecret: false, content: script, shape: script };
    const redisFacts = IMAGE_FACTS.redis;
    const sentinelFacts = IMAGE_FACTS.sentinel;
    // What redis-start.sh needs to find the master (it asks as the `api` user: SENTINEL
    // GET-MASTER-ADDR-BY-NAME on the Sentinels, INFO on the nodes; no more than that).
    const discovery = {
      REDIS_MASTER_NAME: spec.redis.masterName,
      SENTINEL_ADDRESSES: spec.sentinel.sentinelList,
      REDIS_ADDRESSES: spec.redis.nodes.map((n) => n.hostPort).join(','),
      REDIS_BOOTSTRAP_MASTER_HOST: spec.redis.initialMaster.host,
      REDIS_BOOTSTRAP_MASTER_PORT: String(spec.redis.initialMaster.port),
      REDIS_QUERY_USER: 'api',
      // the `api` user's password (all keys) in a 0600 file, not in the environment `docker inspect` shows
      REDIS_QUERY_PASSWORD_FILE: QUERY_PASSWORD_FILE,
      REDIS_CLI: redisFacts.healthTool as string,
      REDIS_SERVER: redisFacts.binary,
    };
    const secretEnv = {
      // redis-cli of the health check authenticates with REDISCLI_AUTH (as `exporter`: PING and INFO, nothing more;
      // a health check in exec form has no shell to read a file with).
      REDISCLI_AUTH: args.secrets.apply((s) => s.redisPasswords.exporter),
    };
    const queryPassword = {
      path: QUERY_PASSWORD_FILE,
      file: secretValueFile('redis/query-password', 'redis', args.secrets.apply((s) => s.redisPasswords.api), '<api user password>'),
    };

    this.volumes = [];
    this.nodes = spec.redis.nodes.map((node) => {
      const volume = dataVolume(`${name}-${node.name}-data`, spec, node, this);
      this.volumes.push(volume);
      const template = `${START_DIR}/redis.conf`;
      return serviceContainer(
        `${name}-${node.name}`,
        {
          spec,
          instance: node,
          facts: redisFacts,
          image: image.imageId,
          networkName: args.networkName,
          entrypoint: redisFacts.shell,
          args: [START_SCRIPT, 'redis'],
          files: [
            { path: START_SCRIPT, file: scriptFile },
            queryPassword,
            { path: template, file: files.get(`redis/${node.name}.conf`) },
          ],
          env: {
            ...discovery,
            REDIS_CONFIG_TEMPLATE: template,
            // On the data volume: Sentinel has the node rewrite it on a failover (CONFIG REWRITE).
            REDIS_CONFIG_FILE: `${node.dataDir}/redis.conf`,
            REDIS_ANNOUNCE_HOST: node.host,
            REDIS_PORT: String(node.port),
          },
          secretEnv,
          healthcheck: redisHealthCheck(node.port),
          // A node stopping writes its snapshot (save points) and fsyncs its AOF: cut short, the next start may
          // have to load an older file or truncate a torn AOF tail.
          stopGraceSeconds: REDIS_STOP_GRACE_SECONDS,
          memoryMb: args.memoryMb.redis,
          log: args.log,
          volumes: [{ volumeName: volume.name, containerPath: node.dataDir }],
        },
        { parent: this },
      );
    });

    this.sentinels = spec.sentinel.instances.map((sentinel) => {
      const volume = dataVolume(`${name}-${sentinel.name}-data`, spec, sentinel, this);
      this.volumes.push(volume);
      const template = `${START_DIR}/sentinel.conf`;
      return serviceContainer(
        `${name}-${sentinel.name}`,
        {
          spec,
          instance: sentinel,
          facts: sentinelFacts,
          image: image.imageId,
          networkName: args.networkName,
          entrypoint: sentinelFacts.shell,
          args: [START_SCRIPT, 'sentinel'],
          files: [
            { path: START_SCRIPT, file: scriptFile },
            queryPassword,
            { path: template, file: files.get(`sentinel/${sentinel.name}.conf`) },
          ],
          env: {
            ...discovery,
            SENTINEL_CONFIG_TEMPLATE: template,
            // Sentinel rewrites its own file, and the next start reads it back: on the data volume.
            SENTINEL_CONFIG_FILE: sentinelConfPath(sentinel),
            SENTINEL_ANNOUNCE_HOST: sentinel.host,
            SENTINEL_PORT: String(sentinel.port),
          },
          secretEnv,
          healthcheck: redisHealthCheck(sentinel.port),
          memoryMb: args.memoryMb.sentinel,
          log: args.log,
          volumes: [{ volumeName: volume.name, containerPath: sentinel.dataDir }],
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
