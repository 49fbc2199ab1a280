/**
 * `npm run up|preview|destroy [-- pulumi args]`: the Pulumi CLI for the `dev` stack of this checkout,
 * on the local file backend (.pulumi/), with the secrets passphrase taken care of
 * (infra/ops/pulumi-cli.ts). Needs the Pulumi CLI and a reachable Docker engine (the Docker provider
 * talks to it even for a preview); where either is missing it says so in one line and what to install.
 * `npm run -s pulumi -- <args>`: any other Pulumi command on that stack (outputs, config), no Docker needed;
 * only the command's own output goes to stdout, so `$(npm run -s pulumi -- stack output publicUrl)` works.
 * Runs under npm, so the Node 22 of node_modules/.bin is first on PATH for the program too.
 */
import { spawnSync, type StdioOptions } from 'node:child_process';
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
    fail(`usage: npm run up|preview|destroy [-- pulumi arguments], npm run pulumi -- <pulumi arguments>   (got ${JSON.stringify(command ?? '')})`);
  }
  let invocations: string[][] = [];
  try {
    invocations = pulumiInvocations(command as PulumiCommand, extra);
  } catch (error) {
    fail(error instanceof Error ? error.message : String(error));
  }
  const version = spawnSync('pulumi', ['version'], { encoding: 'utf8' });
  if (version.error || version.status !== 0) fail(PULUMI_MISSING);
  // outputs and config need no engine; the program (preview, up, destroy) does
  if (command !== 'cli') {
    try {
      await connectDocker();
    } catch (error) {
      fail(error instanceof Error ? error.message : String(error));
    }
  }

  if (command === 'up') {
    // api/Dockerfile copies the compiled API (build/api): compile it from the current sources first.
    const build = spawnSync('npm', ['run', 'build'], { cwd: REPO_ROOT, stdio: 'inherit' });
    if (build.status !== 0) fail('npm run build failed: the API image is built from its output; fix the build first');
  }
  const { env, notes } = pulumiEnvironment(REPO_ROOT, process.env);
  for (const note of notes) console.error(note);
  for (const [i, args] of invocations.entries()) {
    // what the stack selection prints goes to stderr: stdout is the command's own output (stack output values)
    const stdio: StdioOptions = i < invocations.length - 1 ? ['inherit', 2, 'inherit'] : 'inherit';
    const run = spawnSync('pulumi', args, { cwd: REPO_ROOT, stdio, env: { ...process.env, ...env } });
    if (run.status !== 0) process.exit(run.status ?? 1);
  }
}

main().catch((error: unknown) => fail(`npm run pulumi failed: ${error instanceof Error ? error.message : String(error)}`));
