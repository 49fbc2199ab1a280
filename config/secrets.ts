/**
 * The secrets of the stack. They enter the renderers as parameters: no renderer, default or file in
 * the repository holds one. Deployments generate them (Pulumi: @pulumi/random, kept encrypted in the
 * state; Kubernetes: a Secret created outside the manifests); the loopback topology and `npm run
 * render` generate throw-away ones with {@link generateSecrets} or read them from the environment.
 */
import { randomBytes } from 'node:crypto';

/** Redis ACL users (on every Redis node; `api`, `sentinel` and `admin` also on the Sentinels). */
export type RedisUser = 'api' | 'replication' | 'sentinel' | 'exporter' | 'admin';
export const REDIS_USERS: readonly RedisUser[] = ['api', 'replication', 'sentinel', 'exporter', 'admin'];

export interface StackSecrets {
  /** Password of each Redis ACL user. */
  readonly redisPasswords: Readonly<Record<RedisUser, string>>;
  /** Bearer tokens the API accepts (`API_TOKENS`). At least one. */
  readonly apiTokens: readonly string[];
  /** Grafana's admin password. */
  readonly grafanaAdminPassword: string;
  /**
   * Alertmanager webhook URL when it carries a token (replaces `monitoring.alertWebhookUrl`; the
   * rendered alertmanager.yml then holds a secret). @default none: the model's URL is used
   */
  readonly alertWebhookUrl?: string;
}

function token(bytes = 24): string {
  return randomBytes(bytes).toString('base64url');
}

/**
 * Fresh random secrets, for throw-away stacks (loopback tests, `npm run dev`, `npm run render` without
 * secrets in the environment). `prefix` marks them (e.g. 'placeholder-') so a reader of rendered files
 * sees they are not real.
 */
export function generateSecrets(prefix = ''): StackSecrets {
  const redisPasswords = Object.fromEntries(REDIS_USERS.map((u) => [u, `${prefix}${token()}`])) as Record<
    RedisUser,
    string
  >;
  return { redisPasswords, apiTokens: [`${prefix}${token()}`], grafanaAdminPassword: `${prefix}${token()}` };
}

/** Characters a secret may hold: it is written into redis.conf / sentinel.conf lines and env vars. */
export const SECRET_PATTERN = /^[A-Za-z0-9._~+/=-]{12,256}$/;

/** Problems with a set of secrets (empty when fine). */
export function secretProblems(secrets: StackSecrets): string[] {
  const problems: string[] = [];
  for (const user of REDIS_USERS) {
    const pw = secrets.redisPasswords[user];
    if (typeof pw !== 'string' || !SECRET_PATTERN.test(pw))
      problems.push(
        `redisPasswords.${user}: must be 12–256 characters of A–Z a–z 0–9 . _ ~ + / = - (it is written into config files)`,
      );
  }
  if (secrets.apiTokens.length === 0) problems.push('apiTokens: at least one API token is needed');
  secrets.apiTokens.forEach((t, i) => {
    if (!SECRET_PATTERN.test(t) || t.includes(','))
      problems.push(`apiTokens[${i}]: must be 12–256 characters of A–Z a–z 0–9 . _ ~ + / = - (no commas)`);
  });
  if (!SECRET_PATTERN.test(secrets.grafanaAdminPassword))
    problems.push('grafanaAdminPassword: must be 12–256 characters of A–Z a–z 0–9 . _ ~ + / = -');
  return problems;
}
