import { z } from 'zod';

/**
 * The API's whole configuration, read once from the environment at start.
 * The contract's variables (shared/docs/API.md) plus optional tuning variables prefixed API_ or REDIS_.
 */
export interface ApiConfig {
  /** TCP port to listen on. Env PORT. @default 8080 */
  readonly port: number;
  /** Address to bind. Env HOST. @default 0.0.0.0 (all interfaces) */
  readonly host: string;
  /** Sentinels to ask for the master and replicas. Env REDIS_SENTINELS, `host:port,host:port`. Required. */
  readonly sentinels: readonly { readonly host: string; readonly port: number }[];
  /** Sentinel master group name. Env REDIS_MASTER_NAME. @default evergreen */
  readonly masterName: string;
  /** ACL user for Redis and the Sentinels. Env REDIS_USERNAME. @default none (Redis `default` user) */
  readonly redisUsername: string | undefined;
  /** Password for Redis and the Sentinels. Env REDIS_PASSWORD. @default none */
  readonly redisPassword: string | undefined;
  /** Bearer tokens accepted on /v1/*. Env API_TOKENS, comma-separated, at least one. Required. */
  readonly apiTokens: readonly string[];
  /** pino level. Env LOG_LEVEL. @default info */
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /**
   * Upper bound for one Redis command, offline or in flight; the request then fails with 503.
   * Env REDIS_COMMAND_TIMEOUT_MS. @default 2000 — longer than REDIS_WAIT_TIMEOUT_MS, well under client timeouts.
   */
  readonly commandTimeoutMs: number;
  /** TCP connect timeout to Redis and the Sentinels. Env REDIS_CONNECT_TIMEOUT_MS. @default 1000 */
  readonly connectTimeoutMs: number;
  /**
   * How long a purchase waits for a replica to acknowledge it (WAIT) before the API answers 503 instead of 201.
   * Env REDIS_WAIT_TIMEOUT_MS. @default 1000
   */
  readonly waitTimeoutMs: number;
  /** Replicas that must acknowledge a purchase before 201 (WAIT n). Env REDIS_WAIT_REPLICAS. @default 1 */
  readonly waitReplicas: number;
  /**
   * Serve reads from replicas (behind the read-your-writes fence, see docs/api.md) or from the master only.
   * Env REDIS_READ_FROM_REPLICAS (true|false). @default true
   */
  readonly readFromReplicas: boolean;
  /**
   * Connections to the master that carry writes. A write is followed by WAIT on its own connection, and WAIT holds
   * that connection until a replica acknowledges, so several connections let writes wait in parallel.
   * Env REDIS_WRITE_CONNECTIONS. @default 4
   */
  readonly writeConnections: number;
  /** On SIGTERM, how long in-flight requests may take before their connections are cut. Env API_SHUTDOWN_TIMEOUT_MS. @default 10000 */
  readonly shutdownTimeoutMs: number;
  /**
   * On SIGTERM, how long the instance goes on accepting and serving (with /readyz already 503) before it stops
   * accepting and drains: the time the traffic's routers take to stop sending it new connections. Behind nginx with
   * every instance listed (Docker) a refused connection is retried on another instance, so none is needed; behind a
   * Kubernetes Service, whose endpoints are updated a second or two after the pod is told to stop, it avoids
   * refusing the connections that arrive meanwhile. Env API_SHUTDOWN_DELAY_MS. @default 0
   */
  readonly shutdownDelayMs: number;
}

const listOf = (s: string): string[] =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x.length > 0);

const intVar = (def: number, min: number, max: number) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === '') return def;
      const n = Number(v);
      if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
        ctx.addIssue({ code: 'custom', message: `must be an integer ${min}..${max}, got "${v}"` });
        return z.NEVER;
      }
      return n;
    });

const hostPort = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9._-]+):(\d{1,5})$/;

const envSchema = z.object({
  PORT: intVar(8080, 0, 65535),
  HOST: z.string().trim().min(1, 'must not be empty').optional().default('0.0.0.0'),
  REDIS_SENTINELS: z
    .string({ error: 'is required (comma-separated host:port list of sentinels)' })
    .transform((v, ctx) => {
      const items = listOf(v);
      if (items.length === 0) {
        ctx.addIssue({ code: 'custom', message: 'is required (comma-separated host:port list of sentinels)' });
        return z.NEVER;
      }
      const out: { host: string; port: number }[] = [];
      for (const item of items) {
        const m = hostPort.exec(item);
        const port = m ? Number(m[2]) : NaN;
        if (!m || port < 1 || port > 65535) {
          ctx.addIssue({ code: 'custom', message: `"${item}" is not host:port` });
          return z.NEVER;
        }
        out.push({ host: m[1]!.replace(/^\[|\]$/g, ''), port });
      }
      return out;
    }),
  REDIS_MASTER_NAME: z
    .string()
    .regex(/^[A-Za-z0-9._-]+$/, 'must be a sentinel master name ([A-Za-z0-9._-]+)')
    .optional()
    .default('evergreen'),
  REDIS_USERNAME: z.string().min(1, 'must not be empty when set').optional(),
  REDIS_PASSWORD: z.string().min(1, 'must not be empty when set').optional(),
  API_TOKENS: z.string({ error: 'is required (comma-separated bearer tokens)' }).transform((v, ctx) => {
    const tokens = listOf(v);
    if (tokens.length === 0) {
      ctx.addIssue({ code: 'custom', message: 'must hold at least one token (comma-separated)' });
      return z.NEVER;
    }
    if (tokens.some((t) => !/^[\x21-\x7e]+$/.test(t))) {
      ctx.addIssue({ code: 'custom', message: 'tokens must be printable ASCII without spaces' });
      return z.NEVER;
    }
    return tokens;
  }),
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
      error: 'must be one of fatal|error|warn|info|debug|trace|silent',
    })
    .optional()
    .default('info'),
  REDIS_COMMAND_TIMEOUT_MS: intVar(2000, 100, 60000),
  REDIS_CONNECT_TIMEOUT_MS: intVar(1000, 100, 60000),
  REDIS_WAIT_TIMEOUT_MS: intVar(1000, 10, 60000),
  REDIS_WAIT_REPLICAS: intVar(1, 0, 16),
  REDIS_READ_FROM_REPLICAS: z
    .enum(['true', 'false'], { error: 'must be true or false' })
    .optional()
    .default('true')
    .transform((v) => v === 'true'),
  REDIS_WRITE_CONNECTIONS: intVar(4, 1, 32),
  API_SHUTDOWN_TIMEOUT_MS: intVar(10000, 0, 600000),
  API_SHUTDOWN_DELAY_MS: intVar(0, 0, 600000),
});

/** A bad environment: `message` is one line naming every bad variable. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid environment: ${problems.join('; ')}`);
    this.name = 'ConfigError';
  }
}

/** The secrets that may come from a file instead: `<NAME>_FILE` holds the path (a Docker or Kubernetes secret file). */
export const FILE_VARIABLES = ['REDIS_PASSWORD', 'API_TOKENS'] as const;

/**
 * `env` with each `<NAME>_FILE` of FILE_VARIABLES replaced by `<NAME>` = the file's content (a trailing line break
 * dropped): a secret in a file is not shown by `docker inspect` or `ps e`, as one in the environment is. Throws
 * ConfigError when both are set or a file cannot be read. `read` is the only I/O (fs.readFileSync in main).
 */
export function withFileVariables(
  env: Readonly<Record<string, string | undefined>>,
  read: (path: string) => string,
): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = { ...env };
  const problems: string[] = [];
  for (const name of FILE_VARIABLES) {
    const path = env[`${name}_FILE`];
    if (path === undefined || path === '') continue;
    delete out[`${name}_FILE`];
    if (env[name] !== undefined && env[name] !== '') {
      problems.push(`${name} and ${name}_FILE are both set: set one`);
      continue;
    }
    try {
      out[name] = read(path).replace(/\r?\n$/, '');
    } catch (err) {
      problems.push(`${name}_FILE cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)}: ${path})`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return out;
}

/** Parses the environment (pure: pass process.env). Throws ConfigError naming each bad variable. */
export function parseConfig(env: Readonly<Record<string, string | undefined>>): ApiConfig {
  // Empty strings count as unset for optional variables, as in most shells' `VAR= cmd`.
  const cleaned: Record<string, string> = {};
  for (const key of Object.keys(envSchema.shape)) {
    const v = env[key];
    if (v !== undefined && (v !== '' || key === 'API_TOKENS' || key === 'REDIS_SENTINELS')) cleaned[key] = v;
  }
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`));
  }
  const e = parsed.data;
  if (e.REDIS_COMMAND_TIMEOUT_MS <= e.REDIS_WAIT_TIMEOUT_MS) {
    throw new ConfigError([
      `REDIS_COMMAND_TIMEOUT_MS (${e.REDIS_COMMAND_TIMEOUT_MS}) must be greater than REDIS_WAIT_TIMEOUT_MS (${e.REDIS_WAIT_TIMEOUT_MS})`,
    ]);
  }
  return {
    port: e.PORT,
    host: e.HOST,
    sentinels: e.REDIS_SENTINELS,
    masterName: e.REDIS_MASTER_NAME,
    redisUsername: e.REDIS_USERNAME,
    redisPassword: e.REDIS_PASSWORD,
    apiTokens: e.API_TOKENS,
    logLevel: e.LOG_LEVEL,
    commandTimeoutMs: e.REDIS_COMMAND_TIMEOUT_MS,
    connectTimeoutMs: e.REDIS_CONNECT_TIMEOUT_MS,
    waitTimeoutMs: e.REDIS_WAIT_TIMEOUT_MS,
    waitReplicas: e.REDIS_WAIT_REPLICAS,
    readFromReplicas: e.REDIS_READ_FROM_REPLICAS,
    writeConnections: e.REDIS_WRITE_CONNECTIONS,
    shutdownTimeoutMs: e.API_SHUTDOWN_TIMEOUT_MS,
    shutdownDelayMs: e.API_SHUTDOWN_DELAY_MS,
  };
}
