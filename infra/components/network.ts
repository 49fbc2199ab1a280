import * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';

import type { StackSpec } from '../../config';
import { LABELS } from './service-container';

export interface StackNetworkArgs {
  readonly spec: StackSpec;
}

/**
 * The stack's user-defined bridge network: the subnet of the model (172.20.0.0/24 by default) in which
 * every container has its fixed address. Nothing on it is reachable from outside the Docker host
 * except the ports a container publishes.
 */
export class StackNetwork extends pulumi.ComponentResource {
  public readonly network: docker.Network;
  /** The network's name, as containers refer to it (an Output, so they depend on the network). */
  public readonly name: pulumi.Output<string>;

  constructor(name: string, args: StackNetworkArgs, opts?: pulumi.ComponentResourceOptions) {
    super('evergreen:network:StackNetwork', name, {}, opts);
    const { spec } = args;
    this.network = new docker.Network(
      `${name}-bridge`,
      {
        name: spec.network.name,
        driver: 'bridge',
        ipamConfigs: [{ subnet: spec.network.subnet, gateway: spec.network.gatewayAddress }],
        labels: [{ label: LABELS.stack, value: spec.name }],
      },
      {
        parent: this,
        // Every input of a Docker network forces its replacement, and its name and subnet are fixed: the
        // old network must go before the new one can be created (containers on it are replaced too).
        deleteBeforeReplace: true,
      },
    );
    this.name = this.network.name;
    this.registerOutputs({ name: this.name });
  }
}
