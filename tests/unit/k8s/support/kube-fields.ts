/**
 * Unknown-field and API-version checks for synthesized manifests, against Kubernetes 1.27.
 *
 * kubernetes-models validates types and required fields but accepts unknown fields, and its schemas
 * merge several Kubernetes versions. The field list here comes from the bindings that cdk8s-plus-27
 * ships (`lib/imports/k8s.js`, generated from the 1.27 OpenAPI document): each `toJson_<Type>` function
 * lists the JSON keys of <Type> and, for each key, the type of its value. A small parser turns that
 * generated code into a field tree, so that a misspelled or post-1.27 field is reported by its path.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The API versions a Kubernetes 1.27 API server serves for the kinds this project may emit. */
export const SERVED_BY_1_27: Readonly<Record<string, readonly string[]>> = {
  v1: ['Namespace', 'ConfigMap', 'Secret', 'Service', 'ServiceAccount', 'PersistentVolumeClaim', 'Pod'],
  'apps/v1': ['Deployment', 'StatefulSet', 'DaemonSet'],
  'autoscaling/v2': ['HorizontalPodAutoscaler'],
  'policy/v1': ['PodDisruptionBudget'],
  'networking.k8s.io/v1': ['NetworkPolicy', 'Ingress', 'IngressClass'],
  'rbac.authorization.k8s.io/v1': ['Role', 'RoleBinding', 'ClusterRole', 'ClusterRoleBinding'],
  'batch/v1': ['Job', 'CronJob'],
};

export function isServedBy127(apiVersion: string, kind: string): boolean {
  return SERVED_BY_1_27[apiVersion]?.includes(kind) ?? false;
}

type FieldType =
  | { readonly shape: 'leaf' }
  | { readonly shape: 'object' | 'array' | 'map'; readonly type: string };

type TypeFields = ReadonlyMap<string, FieldType>;

interface Bindings {
  readonly types: ReadonlyMap<string, TypeFields>;
  /** `apiVersion/kind` → the props type of its top-level object, e.g. `apps/v1/Deployment` → `KubeDeploymentProps`. */
  readonly topLevel: ReadonlyMap<string, string>;
}

let cached: Bindings | undefined;

function loadBindings(): Bindings {
  if (cached) return cached;
  const packageDir = dirname(require.resolve('cdk8s-plus-27/package.json'));
  const source = readFileSync(join(packageDir, 'lib', 'imports', 'k8s.js'), 'utf8');
  const types = new Map<string, Map<string, FieldType>>();
  const functionPattern = /^function toJson_(\w+)\(obj\) \{\n([\s\S]*?)\n\}\n/gm;
  for (const match of source.matchAll(functionPattern)) {
    const [, typeName = '', body = ''] = match;
    const fields = new Map<string, FieldType>();
    for (const line of body.matchAll(/^ {8}'([^']+)': (.*),$/gm)) {
      const [, key = '', expression = ''] = line;
      const nested = /toJson_(\w+)\(/.exec(expression)?.[1];
      let field: FieldType = { shape: 'leaf' };
      if (nested !== undefined) {
        if (expression.includes('Object.entries')) field = { shape: 'map', type: nested };
        else if (expression.includes('?.map(')) field = { shape: 'array', type: nested };
        else field = { shape: 'object', type: nested };
      }
      fields.set(key, field);
    }
    types.set(typeName, fields);
  }
  const topLevel = new Map<string, string>();
  const gvkPattern = /^(Kube\w+)\.GVK = \{\n\s+apiVersion: '([^']+)',\n\s+kind: '([^']+)',/gm;
  for (const [, className = '', apiVersion = '', kind = ''] of source.matchAll(gvkPattern)) {
    // Several classes may share a GVK (e.g. aliases); the first one is the canonical binding.
    if (!topLevel.has(`${apiVersion}/${kind}`)) topLevel.set(`${apiVersion}/${kind}`, `${className}Props`);
  }
  if (types.size < 300 || topLevel.size < 50) {
    throw new Error(`could not parse the cdk8s-plus-27 k8s bindings (${types.size} types, ${topLevel.size} kinds)`);
  }
  cached = { types, topLevel };
  return cached;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function walk(value: unknown, typeName: string, path: string, types: Bindings['types'], problems: string[]): void {
  const fields = types.get(typeName);
  if (!fields || !isPlainObject(value)) return; // types are checked by kubernetes-models; here only field names
  for (const [key, child] of Object.entries(value)) {
    const field = fields.get(key);
    const childPath = `${path}.${key}`;
    if (!field) {
      problems.push(`${childPath}: unknown field (not in the Kubernetes 1.27 ${typeName.replace(/Props$/, '')})`);
      continue;
    }
    if (field.shape === 'object') walk(child, field.type, childPath, types, problems);
    else if (field.shape === 'array' && Array.isArray(child)) {
      child.forEach((item, i) => walk(item, field.type, `${childPath}[${i}]`, types, problems));
    } else if (field.shape === 'map' && isPlainObject(child)) {
      for (const [mapKey, item] of Object.entries(child)) walk(item, field.type, `${childPath}.${mapKey}`, types, problems);
    }
  }
}

export interface KubeObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly labels?: Record<string, string> };
  readonly [key: string]: unknown;
}

/** Every field of `object` that Kubernetes 1.27 does not know, as `Kind/name.path: reason`. */
export function unknownFields(object: KubeObject): string[] {
  const { types, topLevel } = loadBindings();
  const id = `${object.kind}/${object.metadata.name}`;
  const propsType = topLevel.get(`${object.apiVersion}/${object.kind}`);
  if (!propsType) return [`${id}: ${object.apiVersion} ${object.kind} has no Kubernetes 1.27 binding`];
  const problems: string[] = [];
  const { apiVersion: _apiVersion, kind: _kind, ...rest } = object;
  walk(rest, propsType, id, types, problems);
  return problems;
}
