/**
 * Validation with kubernetes-models 5 (the Kubernetes OpenAPI schemas compiled to validators). The package
 * is ESM-only and jest's module loader cannot load ESM, so the validation runs in a child Node process
 * (validate-models.mjs): one spawn for a whole set of objects.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { KubeObject } from './kube-fields';

const SCRIPT = join(__dirname, 'validate-models.mjs');

/** Every schema violation in `objects`, as `Kind/name: /path message`; empty when all are valid. */
export function schemaProblems(objects: readonly KubeObject[]): string[] {
  const result = spawnSync(process.execPath, [SCRIPT], {
    input: JSON.stringify(objects),
    encoding: 'utf8',
    timeout: 60_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.error) throw result.error;
  if (result.status !== 0) {
    throw new Error(`${SCRIPT} failed (exit ${String(result.status)}; Node ${process.version}):\n${result.stderr}`);
  }
  return JSON.parse(result.stdout) as string[];
}
