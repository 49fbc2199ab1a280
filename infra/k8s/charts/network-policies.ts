import { Chart } from 'cdk8s';
import { k8s } from 'cdk8s-plus-27';
import type { Construct } from 'constructs';
import type { StackSpec } from '../../../config';
import { stackFlows, type Flow } from '../flows';
import { selectorLabels, stackLabels, workloadLabels, type Workload } from '../labels';
import type { ManifestProps } from '../props';

export interface NetworkPoliciesChartProps {
  readonly spec: StackSpec;
  readonly manifest: ManifestProps;
}

const WORKLOADS: readonly Workload[] = ['gateway', 'api', 'redis', 'sentinel', 'prometheus', 'alertmanager', 'grafana'];

/**
 * Deny by default, then exactly the flows of {@link stackFlows} and DNS:
 * - `default-deny`: every pod of the namespace, no ingress, no egress;
 * - `allow-dns`: every pod may ask the cluster DNS (UDP and TCP 53);
 * - one policy per workload: its ingress from, and egress to, the workloads it talks to, by port.
 * Pod-to-pod traffic inside one pod (sidecar exporters reading 127.0.0.1) is not subject to policies.
 */
export class NetworkPoliciesChart extends Chart {
  constructor(scope: Construct, id: string, props: NetworkPoliciesChartProps) {
    const { spec, manifest } = props;
    super(scope, id, { namespace: spec.kubernetes.namespace });
    const stack = spec.name;

    new k8s.KubeNetworkPolicy(this, 'default-deny', {
      metadata: { name: 'default-deny', labels: stackLabels(stack) },
      spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] },
    });
    new k8s.KubeNetworkPolicy(this, 'allow-dns', {
      metadata: { name: 'allow-dns', labels: stackLabels(stack) },
      spec: {
        podSelector: {},
        policyTypes: ['Egress'],
        egress: [
          {
            to: [
              {
                namespaceSelector: { matchLabels: { ...manifest.dns.namespaceLabels } },
                podSelector: { matchLabels: { ...manifest.dns.podLabels } },
              },
              ...manifest.dns.ipBlocks.map((cidr) => ({ ipBlock: { cidr } })),
            ],
            ports: [
              { protocol: 'UDP', port: k8s.IntOrString.fromNumber(53) },
              { protocol: 'TCP', port: k8s.IntOrString.fromNumber(53) },
            ],
          },
        ],
      },
    });

    const flows = stackFlows(spec);
    const peer = (side: Workload | 'clients' | 'external'): k8s.NetworkPolicyPeer[] | undefined => {
      if (side === 'external') return [{ ipBlock: { cidr: '0.0.0.0/0' } }];
      if (side === 'clients') {
        const labels = manifest.gatewayClientNamespaceLabels;
        // No `from`: any source, in or outside the cluster (LoadBalancer / NodePort traffic).
        return Object.keys(labels).length === 0 ? undefined : [{ namespaceSelector: { matchLabels: { ...labels } } }];
      }
      return [{ podSelector: { matchLabels: selectorLabels(stack, side) } }];
    };
    const ports = (list: readonly Flow[]): k8s.NetworkPolicyPort[] =>
      [...new Set(list.map((f) => `${f.protocol}/${f.port}`))].map((key) => {
        const [protocol = 'TCP', port = '0'] = key.split('/');
        return { protocol, port: k8s.IntOrString.fromNumber(Number(port)) };
      });
    /** One rule per peer, with every port of the flows to/from it. */
    const rules = (list: readonly Flow[], sideOf: (f: Flow) => Workload | 'clients' | 'external') => {
      const peers = [...new Set(list.map(sideOf))];
      return peers.map((side) => {
        const mine = list.filter((f) => sideOf(f) === side);
        return { peers: peer(side), ports: ports(mine), why: mine.map((f) => f.why) };
      });
    };

    for (const workload of WORKLOADS) {
      const ingress = rules(
        flows.filter((f) => f.to === workload),
        (f) => f.from,
      );
      const egress = rules(
        flows.filter((f) => f.from === workload),
        (f) => f.to,
      );
      if (ingress.length === 0 && egress.length === 0) continue;
      new k8s.KubeNetworkPolicy(this, `allow-${workload}`, {
        metadata: {
          name: `allow-${workload}`,
          labels: workloadLabels(stack, workload),
          annotations: {
            'evergreen.dev/flows': [...ingress, ...egress].flatMap((r) => r.why).filter((w, i, all) => all.indexOf(w) === i).join('; '),
          },
        },
        spec: {
          podSelector: { matchLabels: selectorLabels(stack, workload) },
          policyTypes: ['Ingress', 'Egress'],
          ingress: ingress.map((r) => ({ ...(r.peers ? { from: r.peers } : {}), ports: r.ports })),
          egress: egress.map((r) => ({ ...(r.peers ? { to: r.peers } : {}), ports: r.ports })),
        },
      });
    }
  }
}
