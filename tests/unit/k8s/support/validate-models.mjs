/* global process, Buffer */
// Validates Kubernetes objects with kubernetes-models (ESM-only, so it runs in its own Node process: jest's
// module loader cannot load it). Reads a JSON array of objects on stdin and writes a JSON array of problems
// (strings) on stdout; an object whose apiVersion/kind kubernetes-models does not know is a problem too.
// One module per kind (`kubernetes-models/apps/v1/Deployment`, core: `kubernetes-models/v1/Service`):
// loading only those is much faster than the package's index.
async function modelClass(apiVersion, kind) {
  if (!/^[\w./-]+$/.test(apiVersion) || !/^\w+$/.test(kind)) return undefined;
  try {
    const module = await import(`kubernetes-models/${apiVersion}/${kind}`);
    return module[kind];
  } catch {
    return undefined;
  }
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
  const Model = await modelClass(String(object?.apiVersion), String(object?.kind));
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
