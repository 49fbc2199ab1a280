import { Chart } from 'cdk8s';
import { k8s } from 'cdk8s-plus-27';
import type { Construct } from 'constructs';
import type { StackSpec } from '../../../config';
import { stackLabels } from '../labels';

export interface NamespaceChartProps {
  readonly spec: StackSpec;
}

/**
 * The namespace of the stack. It enforces the `restricted` Pod Security Standard, so the API server
 * itself refuses any pod of the stack that would run as root, escalate privileges or keep capabilities.
 */
export class NamespaceChart extends Chart {
  constructor(scope: Construct, id: string, props: NamespaceChartProps) {
    super(scope, id, { labels: stackLabels(props.spec.name) });
    new k8s.KubeNamespace(this, 'namespace', {
      metadata: {
        name: props.spec.kubernetes.namespace,
        labels: {
          'pod-security.kubernetes.io/enforce': 'restricted',
          'pod-security.kubernetes.io/enforce-version': 'v1.27',
          'pod-security.kubernetes.io/warn': 'restricted',
        },
      },
    });
  }
}
