import * as docker from '@pulumi/docker';
import type * as pulumi from '@pulumi/pulumi';

import type { ServiceInstance, StackSpec } from '../../config';
import { LABELS } from './service-container';

/**
 * An image from a registry (or already on the Docker host, e.g. a mirror or a locally built stand-in).
 * Containers use its `imageId`, never the tag: a tag would make every `up` replace them.
 * `keepLocally`: destroying the stack does not delete images other stacks or users may share.
 */
export function pulledImage(name: string, reference: string, parent: pulumi.Resource): docker.RemoteImage {
  return new docker.RemoteImage(name, { name: reference, keepLocally: true }, { parent });
}

/** The named volume holding an instance's data: `<stack>-<instance>-data`. */
export function dataVolume(name: string, spec: StackSpec, instance: ServiceInstance, parent: pulumi.Resource): docker.Volume {
  return new docker.Volume(
    name,
    {
      name: `${spec.name}-${instance.name}-data`,
      labels: [
        { label: LABELS.stack, value: spec.name },
        { label: LABELS.service, value: instance.service },
        { label: LABELS.instance, value: instance.name },
      ],
    },
    // Its name is fixed: a replacement must let go of the old one first. retainOnDelete: neither a replacement nor
    // `pulumi destroy` deletes the data. A volume re-created under the same name is the one Docker kept, data
    // included; a change of the stack's `name` renames the volumes, so the stack then starts on new, empty ones —
    // but the old ones, and their data, are still there to copy or restore from instead of gone.
    { parent, deleteBeforeReplace: true, retainOnDelete: true },
  );
}
