/**
 * `npm run render -- --out DIR [--stack FILE.json|FILE.yaml] [--target docker|loopback|kubernetes]`
 *
 * Writes every rendered config file of a stack (config/render) under DIR, so a reviewer can read exactly
 * what will be deployed. The stack file holds settings overrides (config/model.ts, docs/config.md);
 * without it the defaults are rendered.
 *
 * Secrets come from the environment when set (EVERGREEN_REDIS_PASSWORD_API, …_REPLICATION, …_SENTINEL,
 * …_EXPORTER, …_ADMIN, EVERGREEN_API_TOKENS comma-separated, EVERGREEN_GRAFANA_ADMIN_PASSWORD,
 * EVERGREEN_ALERT_WEBHOOK_URL); every one that is not set is a freshly generated placeholder starting
 * with `placeholder-`, so rendered files never hold a real secret by accident. Files holding a secret
 * are written with mode 0600.
 *
 * Everything is validated and rendered before the first file is written: bad input changes nothing.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, extname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import {
  defineStack,
  generateSecrets,
  REDIS_USERS,
  renderAll,
  STACK_TARGETS,
  StackValidationError,
  type RedisUser,
  type StackOverrides,
  type StackSecrets,
  type StackTarget,
} from '../config';

export const PLACEHOLDER_PREFIX = 'placeholder-';

const USAGE =
  'usage: npm run render -- --out DIR [--stack FILE.json|FILE.yaml] [--target docker|loopback|kubernetes]';

/** An error with a message for the user (no stack trace) and an exit code. */
export class RenderCommandError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

export function secretEnvName(user: RedisUser): string {
  return `EVERGREEN_REDIS_PASSWORD_${user.toUpperCase()}`;
}

/** Secrets from the environment where set, placeholders elsewhere; and which ones are placeholders. */
export function secretsFromEnv(env: NodeJS.ProcessEnv): { secrets: StackSecrets; placeholders: string[] } {
  const generated = generateSecrets(PLACEHOLDER_PREFIX);
  const placeholders: string[] = [];
  const pick = (name: string, fallback: string): string => {
    const value = env[name];
    if (value !== undefined && value !== '') return value;
    placeholders.push(name);
    return fallback;
  };
  const redisPasswords = Object.fromEntries(
    REDIS_USERS.map((u) => [u, pick(secretEnvName(u), generated.redisPasswords[u])]),
  ) as Record<RedisUser, string>;
  const tokens = pick('EVERGREEN_API_TOKENS', generated.apiTokens.join(','));
  const webhook = env.EVERGREEN_ALERT_WEBHOOK_URL;
  return {
    secrets: {
      redisPasswords,
      apiTokens: tokens.split(',').filter((t) => t !== ''),
      grafanaAdminPassword: pick('EVERGREEN_GRAFANA_ADMIN_PASSWORD', generated.grafanaAdminPassword),
      ...(webhook ? { alertWebhookUrl: webhook } : {}),
    },
    placeholders,
  };
}

/** Reads a stack overrides file (JSON or YAML). */
export function readStackFile(file: string): StackOverrides {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new RenderCommandError(`--stack ${file}: cannot read it (${(error as Error).message})`);
  }
  let parsed: unknown;
  try {
    parsed = extname(file).toLowerCase() === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw new RenderCommandError(`--stack ${file}: not valid ${extname(file) === '.json' ? 'JSON' : 'YAML'} (${(error as Error).message})`);
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed))
    throw new RenderCommandError(`--stack ${file}: must hold a mapping of settings (see docs/config.md)`);
  return parsed as StackOverrides;
}

export interface RenderResult {
  readonly outDir: string;
  readonly files: readonly { path: string; containsSecret: boolean }[];
  readonly placeholders: readonly string[];
}

export function runRender(argv: readonly string[], env: NodeJS.ProcessEnv): RenderResult {
  let values: { out?: string; stack?: string; target?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        out: { type: 'string' },
        stack: { type: 'string' },
        target: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new RenderCommandError(`${(error as Error).message}\n${USAGE}`, 2);
  }
  if (values.help) throw new RenderCommandError(USAGE, 0);
  if (values.out === undefined || values.out === '') throw new RenderCommandError(`--out DIR is required\n${USAGE}`, 2);
  const target = (values.target ?? 'docker') as StackTarget;
  if (!STACK_TARGETS.includes(target))
    throw new RenderCommandError(`--target must be one of ${STACK_TARGETS.join(', ')} (got "${values.target}")`, 2);

  const overrides = values.stack === undefined ? {} : readStackFile(values.stack);
  const { secrets, placeholders } = secretsFromEnv(env);
  let files;
  try {
    files = renderAll(defineStack(overrides, target), secrets);
  } catch (error) {
    if (error instanceof StackValidationError) throw new RenderCommandError(error.message);
    throw error;
  }

  const outDir = resolve(values.out);
  for (const file of files) {
    const path = join(outDir, file.path);
    const mode = file.containsSecret ? 0o600 : 0o644;
    try {
      mkdirSync(dirname(path), { recursive: true });
      // an existing file keeps its mode on write: narrow it first, so a secret is never readable by others
      if (existsSync(path)) chmodSync(path, mode);
      writeFileSync(path, file.content, { mode });
    } catch (error) {
      throw new RenderCommandError(`cannot write ${path}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  return { outDir, files: files.map(({ path, containsSecret }) => ({ path, containsSecret })), placeholders };
}

function main(): void {
  try {
    const result = runRender(process.argv.slice(2), process.env);
    for (const f of result.files) console.log(`${f.containsSecret ? 'secret ' : '       '} ${join(result.outDir, f.path)}`);
    console.log(`${result.files.length} files written to ${result.outDir}`);
    if (result.placeholders.length > 0)
      console.log(
        `secrets not set in the environment were generated as '${PLACEHOLDER_PREFIX}…' values: ${result.placeholders.join(', ')}`,
      );
  } catch (error) {
    if (error instanceof RenderCommandError) {
      (error.exitCode === 0 ? console.log : console.error)(error.message);
      process.exitCode = error.exitCode;
      return;
    }
    throw error;
  }
}

if (require.main === module) main();
