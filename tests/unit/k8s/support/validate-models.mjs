// Validates Kubernetes objects with kubernetes-models (ESM-only, so it runs in its own Node process: jest's
// module loader cannot load it). Reads a JSON array of objects on stdin and writes a JSON array of problems
// (strings) on stdout; an object whose apiVersion/kind kubernetes-models does not know is a problem too.
import * as models from 'kubernetes-models';

/** `networking.k8s.io/v1` → models.networkingK8sIo.v1; `v1` → models.v1 (the core group). */
function modelClass(apiVersion, kind) {
  const slash = apiVersion.lastIndexOf('/');
  const version = apiVersion.slice(slash + 1);
  const group = slash < 0 ? undefined : apiVersion.slice(0, slash);
  const groupKey = group?.replace(/\.(\w)/g, (_, c) => c.toUpperCase());
  const versions = group === undefined ? models : models[groupKey];
  return versions?.[version]?.[kind];
}

function describe(error) {
  const details = Array.isArray(error?.errors)
    ? error.errors.map((e) => `${e.instancePath || '/'} ${e.message ?? e.keyword} ${JSON.stringify(e.params ?? {})}`)
    : [];
  return details.length > 0 ? details.join('; ') : String(error?.message ?? error);
}

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const objects = JSON.parse(Buffer.concat(chunks).toString('utf8'));
const problems = [];
for (const object of objects) {
  const id = `${object?.kind}/${object?.metadata?.name}`;
  const Model = modelClass(String(object?.apiVersion), String(object?.kind));
  if (typeof Model !== 'function') {
    problems.push(`${id}: kubernetes-models has no model for ${object?.apiVersion} ${object?.kind}`);
    continue;
  }
  try {
    new Model(object).validate();
  } catch (error) {
    problems.push(`${id}: ${describe(error)}`);
  }
}
process.stdout.write(JSON.stringify(problems));
