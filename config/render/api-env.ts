/**
 * The environment of one API instance (shared/docs/API.md): the model's non-secret part plus the
 * secrets (REDIS_PASSWORD of the `api` ACL user, API_TOKENS).
 */
import { apiInstanceEnvironment, type StackSpec } from '../model';
import type { StackSecrets } from '../secrets';

export function renderApiEnvironment(spec: StackSpec, secrets: StackSecrets, index: number): Record<string, string> {
  return {
    ...apiInstanceEnvironment(spec, index),
    REDIS_PASSWORD: secrets.redisPasswords.api,
    API_TOKENS: secrets.apiTokens.join(','),
  };
}

/** The same as an env file (`KEY=value` lines), for `npm run render` and `docker run --env-file`. */
export function renderApiEnvFile(spec: StackSpec, secrets: StackSecrets, index: number): string {
  const env = renderApiEnvironment(spec, secrets, index);
  return `${Object.entries(env)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n')}\n`;
}
