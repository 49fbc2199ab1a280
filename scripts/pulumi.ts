/**
 * `npm run up|preview|destroy [-- pulumi args]`: the Pulumi CLI for the `dev` stack of this checkout,
 * on the local file backend (.pulumi/), with the secrets passphrase taken care of
 * (infra/ops/pulumi-cli.ts). Needs the Pulumi CLI and a reachable Docker engine (the Docker provider
 * talks to it even for a preview); where either is missing it says so in one line and what to install.
 * Runs under npm, so the Node 22 of node_modules/.bin is first on PATH for the program too.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

import { connectDocker } from '../infra/ops/docker';
import {
  PULUMI_COMMANDS,
  PULUMI_MISSING,
  pulumiEnvironment,
  pulumiInvocations,
  type PulumiCommand,
} from '../infra/ops/pulumi-cli';

const REPO_ROOT = path.resolve(__dirname, '..');

function fail(line: string): never {
  console.error(line);
  process.exit(1);
}

async function main(): Promise<void> {
  const [command, ...extra] = process.argv.slice(2);
  if (!PULUMI_COMMANDS.includes(command as PulumiCommand)) {
    fail(`usage: npm run up|preview|destroy [-- pulumi arguments]   (got ${JSON.stringify(command ?? '')})`);
  }
  const version = spawnSync('pulumi', ['version'], { encoding: 'utf8' });
  if (version.error || version.status !== 0) fail(PULUMI_MISSING);
  try {
    await connectDocker();
  } catch (error) {
    fail(error instanceof Error ? error.message : String(error));
  }

  if (command === 'up') {
    // api/Dockerfile copies the compiled API (build/api): compile it from the current sources first.
    const build = spawnSync('npm', ['run', 'build'], { cwd: REPO_ROOT, stdio: 'inherit' });
    if (build.status !== 0) fail('npm run build failed: the API image is built from its output; fix the build first');
  }
  const { env, notes } = pulumiEnvironment(REPO_ROOT, process.env);
  for (const note of notes) console.log(note);
  for (const args of pulumiInvocations(command as PulumiCommand, extra)) {
    const run = spawnSync('pulumi', args, { cwd: REPO_ROOT, stdio: 'inherit', env: { ...process.env, ...env } });
    if (run.status !== 0) process.exit(run.status ?? 1);
  }
}

void main();
