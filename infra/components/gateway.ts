import type * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';

import type { StackSpec } from '../../config';
import { IMAGE_FACTS, wgetHealthCheck } from '../images';
import type { StackFiles } from '../rendered';
import { pulledImage } from './shared';
import { serviceContainer, type LogRotation } from './service-container';

export interface GatewayArgs {
  readonly spec: StackSpec;
  readonly files: StackFiles;
  readonly networkName: pulumi.Input<string>;
  /** Host address the public port is published on. */
  readonly publicBindAddress: string;
  readonly memoryMb: number;
  readonly log: LogRotation;
  /** The API containers: the gateway's health check goes through them, so they start first. */
  readonly apiContainers: readonly docker.Container[];
}

export const NGINX_CONF = '/etc/nginx/nginx.conf';

/**
 * nginx, the only public entry: the one container that publishes a port on the Docker host.
 *
 * It runs unprivileged (the image's nginx user): its pid file and temp directories live under the
 * model's gateway.runDir, on tmpfs mounts owned by that user (nginx creates only the last level of a
 * temp path, and a directory the upload would create is root's).
 */
export class Gateway extends pulumi.ComponentResource {
  public readonly container: docker.Container;

  constructor(name: string, args: GatewayArgs, opts?: pulumi.ComponentResourceOptions) {
    super('evergreen:gateway:Gateway', name, {}, opts);
    const { spec, files } = args;
    const g = spec.gateway;
    const facts = IMAGE_FACTS.gateway;
    const image = pulledImage(`${name}-image`, spec.images.nginx, this);
    const tmpfsOptions = `rw,noexec,nosuid,size=64m,mode=0700,uid=${facts.user.uid},gid=${facts.user.gid}`;
    const container = serviceContainer(
      `${name}-nginx`,
      {
        spec,
        instance: g.instance,
        facts,
        image: image.imageId,
        networkName: args.networkName,
        // `-e stderr`: errors before the config is read go to stderr too, not to a file it cannot write.
        args: ['-e', 'stderr', '-c', NGINX_CONF, '-g', 'daemon off;'],
        files: [{ path: NGINX_CONF, file: files.get('nginx/nginx.conf') }],
        // Through nginx to an API instance's /healthz: healthy means "serves the API".
        healthcheck: wgetHealthCheck(facts.healthTool as string, `http://127.0.0.1:${g.instance.port}/healthz`),
        memoryMb: args.memoryMb,
        log: args.log,
        ports: [{ internal: g.instance.port, external: g.publishedPort, ip: args.publicBindAddress }],
        tmpfs: { [g.runDir]: tmpfsOptions, [g.tempDir]: tmpfsOptions },
      },
      { parent: this, dependsOn: [...args.apiContainers] },
    );
    this.container = container;
    this.registerOutputs({ container: container.name });
  }
}
