/**
 * `npm run synth [-- --stack stack.yaml] [--manifests manifests.yaml] [--out dist]`
 *
 * Writes the Kubernetes 1.27 manifests of the stack to `dist/` (one file per concern, numbered in apply
 * order): `kubectl apply -f dist/`. `--stack` holds overrides of the shared stack model (config/model.ts,
 * the same settings the Docker deployment reads); `--manifests` holds the Kubernetes-only settings
 * (infra/k8s/props.ts). Both YAML or JSON, both optional. See docs/kubernetes.md.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parse } from 'yaml';
import { defineStack, StackValidationError, type StackOverrides } from '../../config';
import { synthesizeManifests, writeManifests } from './app';
import { ManifestSettingsError, parseManifestProps } from './props';

function readSettings(path: string | undefined): unknown {
  if (path === undefined) return {};
  try {
    return parse(readFileSync(path, 'utf8')) ?? {};
  } catch (error) {
    throw new Error(`cannot read ${path}: ${(error as Error).message}`, { cause: error });
  }
}

const USAGE = 'usage: npm run synth -- [--stack stack.yaml] [--manifests manifests.yaml] [--out dist]  (docs/kubernetes.md)';

/** Bad arguments: the usage, exit code 2 (as `npm run render`). */
class UsageError extends Error {}

function main(): void {
  let values: { stack?: string; manifests?: string; out?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      options: {
        stack: { type: 'string' },
        manifests: { type: 'string' },
        out: { type: 'string', default: 'dist' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n${USAGE}`);
  }
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const spec = defineStack(readSettings(values.stack) as StackOverrides, 'kubernetes');
  const manifest = parseManifestProps(readSettings(values.manifests));
  const files = synthesizeManifests(spec, manifest);
  const written = writeManifests(files, resolve(values.out ?? 'dist'));
  const objects = files.reduce((n, f) => n + f.objects.length, 0);
  console.log(`wrote ${objects} objects in ${written.length} files:\n${written.map((p) => `  ${p}`).join('\n')}`);
  console.log(`apply with: kubectl apply -f ${values.out ?? 'dist'}/  (create the Secrets first: docs/kubernetes.md)`);
}

try {
  main();
} catch (error) {
  if (error instanceof UsageError) {
    console.error(`npm run synth: ${error.message}`);
    process.exit(2);
  }
  const message =
    error instanceof StackValidationError || error instanceof ManifestSettingsError ? error.message : String((error as Error).message ?? error);
  console.error(`npm run synth: ${message}`);
  process.exitCode = 1;
}
