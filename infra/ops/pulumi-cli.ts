/**
 * How `npm run up|preview|destroy` and `npm run pulumi -- <args>` (scripts/pulumi.ts) drive the Pulumi CLI for
 * the `dev` stack on the local file backend. The decisions are pure functions here (tested); the script only
 * runs them.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

/**
 * `up`, `preview`, `destroy`: that Pulumi command on the dev stack. `cli`: any other Pulumi command line, given
 * whole (`npm run pulumi -- stack output publicUrl`, `-- config set apiInstances 3`), on the same backend, stack
 * and passphrase — which a bare `pulumi` in the shell would not find.
 */
export type PulumiCommand = 'up' | 'preview' | 'destroy' | 'cli';
export const PULUMI_COMMANDS: readonly PulumiCommand[] = ['up', 'preview', 'destroy', 'cli'];

export const DEV_STACK = 'dev';

/** What to do when the CLI is missing, in one line. */
export const PULUMI_MISSING =
  'the pulumi CLI is not on PATH: install it (https://www.pulumi.com/docs/install/, e.g. curl -fsSL https://get.pulumi.com | sh) and run this again';

/** Where the dev stack's passphrase lives when the caller sets none: beside the state, git-ignored. */
export function passphraseFile(repoRoot: string): string {
  return path.join(repoRoot, '.pulumi', `${DEV_STACK}.passphrase`);
}

export interface PulumiEnvironment {
  readonly env: Record<string, string>;
  /** A line to tell the user, e.g. that a passphrase file was created. */
  readonly notes: readonly string[];
}

/**
 * The environment the CLI runs with: the local file backend of this checkout, and a passphrase for
 * the dev stack's secrets. A PULUMI_CONFIG_PASSPHRASE(_FILE) the caller set wins; otherwise a random
 * one is created once in .pulumi/dev.passphrase (mode 0600, never committed), so a fresh dev stack
 * needs nobody to type anything.
 */
export function pulumiEnvironment(repoRoot: string, callerEnv: NodeJS.ProcessEnv): PulumiEnvironment {
  const env: Record<string, string> = {};
  const notes: string[] = [];
  if (!callerEnv.PULUMI_BACKEND_URL) env.PULUMI_BACKEND_URL = `file://${repoRoot}`;
  if (callerEnv.PULUMI_CONFIG_PASSPHRASE === undefined && !callerEnv.PULUMI_CONFIG_PASSPHRASE_FILE) {
    const file = passphraseFile(repoRoot);
    if (!existsSync(file)) {
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600 });
      chmodSync(file, 0o600);
      notes.push(`created ${path.relative(repoRoot, file)}: the passphrase of the dev stack's secrets (keep it; set PULUMI_CONFIG_PASSPHRASE to use your own)`);
    }
    env.PULUMI_CONFIG_PASSPHRASE_FILE = file;
  }
  return { env, notes };
}

/**
 * The CLI invocations, in order: select (or create) the dev stack, then the command itself (`cli`: `extraArgs`
 * are the whole command; the selected stack is the one it acts on).
 */
export function pulumiInvocations(command: PulumiCommand, extraArgs: readonly string[]): string[][] {
  if (command === 'cli' && extraArgs.length === 0) throw new Error('npm run pulumi -- <pulumi arguments>: no arguments given');
  return [
    ['stack', 'select', DEV_STACK, '--create', '--secrets-provider', 'passphrase', '--non-interactive'],
    command === 'cli' ? [...extraArgs] : [command, '--stack', DEV_STACK, ...extraArgs],
  ];
}
