/**
 * The Kubernetes recommended labels (`app.kubernetes.io/*`), set on every object and pod template.
 * https://kubernetes.io/docs/concepts/overview/working-with-objects/common-labels/
 *
 * Selectors use only `name` + `instance` + `part-of`: never `version` (a new image tag would change an
 * immutable selector) and never `component` alone.
 */

/** `app.kubernetes.io/part-of` of every object. */
export const PART_OF = 'evergreen-stores';
/** `app.kubernetes.io/managed-by` of every object. */
export const MANAGED_BY = 'cdk8s';

/** The workloads (and the Services, ConfigMaps, policies… that belong to them). */
export type Workload = 'gateway' | 'api' | 'redis' | 'sentinel' | 'prometheus' | 'alertmanager' | 'grafana';

/** What each workload is, for `app.kubernetes.io/name` (the application) and `component` (its role). */
const WORKLOAD_LABELS: Readonly<Record<Workload, { readonly name: string; readonly component: string }>> = {
  gateway: { name: 'nginx', component: 'gateway' },
  api: { name: 'evergreen-api', component: 'api' },
  redis: { name: 'redis', component: 'database' },
  sentinel: { name: 'redis-sentinel', component: 'failover' },
  prometheus: { name: 'prometheus', component: 'monitoring' },
  alertmanager: { name: 'alertmanager', component: 'alerting' },
  grafana: { name: 'grafana', component: 'dashboards' },
};

/** The tag of an image reference (`redis:7.4.2-alpine` → `7.4.2-alpine`), usable as a label value. */
export function imageVersion(image: string): string | undefined {
  const withoutDigest = image.split('@')[0] ?? image;
  const lastSlash = withoutDigest.lastIndexOf('/');
  const colon = withoutDigest.indexOf(':', lastSlash + 1);
  if (colon < 0) return undefined;
  const tag = withoutDigest.slice(colon + 1).replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 63);
  return /^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$/.test(tag) ? tag : undefined;
}

/** Labels that select the pods of `workload` of stack `stack` (stable across image upgrades). */
export function selectorLabels(stack: string, workload: Workload): Record<string, string> {
  return {
    'app.kubernetes.io/name': WORKLOAD_LABELS[workload].name,
    'app.kubernetes.io/instance': `${stack}-${workload}`,
    'app.kubernetes.io/part-of': PART_OF,
  };
}

/** Every recommended label of an object (or pod template) that belongs to `workload`. */
export function workloadLabels(stack: string, workload: Workload, image?: string): Record<string, string> {
  const version = image === undefined ? undefined : imageVersion(image);
  return {
    ...selectorLabels(stack, workload),
    'app.kubernetes.io/component': WORKLOAD_LABELS[workload].component,
    'app.kubernetes.io/managed-by': MANAGED_BY,
    ...(version === undefined ? {} : { 'app.kubernetes.io/version': version }),
  };
}

/** Labels of objects that belong to the stack as a whole (namespace, default-deny policy). */
export function stackLabels(stack: string): Record<string, string> {
  return {
    'app.kubernetes.io/name': 'evergreen-stores',
    'app.kubernetes.io/instance': stack,
    'app.kubernetes.io/part-of': PART_OF,
    'app.kubernetes.io/managed-by': MANAGED_BY,
  };
}
