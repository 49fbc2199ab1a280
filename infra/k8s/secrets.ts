/**
 * Secrets in the Kubernetes manifests: there are none. Configs that hold a secret (the Redis ACL
 * passwords in redis.conf and sentinel.conf) are rendered with placeholders instead of the secrets;
 * the start-up script (scripts/redis-start.sh) replaces each `__SECRET_<NAME>__` with the environment
 * variable `<NAME>`, which the pod takes from a Secret created outside the manifests
 * (docs/kubernetes.md tells how).
 */
import { REDIS_USERS, type RedisUser, type StackSecrets } from '../../config';

/** The environment variable (and placeholder name) of each Redis user's password. */
export function redisPasswordEnv(user: RedisUser): string {
  return `REDIS_PASSWORD_${user.toUpperCase()}`;
}

/** The text standing for the value of environment variable `name` in a rendered template. */
export function placeholder(name: string): string {
  return `__SECRET_${name}__`;
}

/**
 * Secrets to render templates with: every value is a placeholder, so a rendered file holds no secret.
 * (They satisfy the model's secret pattern: letters, digits and underscores, at least 12 characters.)
 */
export function placeholderSecrets(): StackSecrets {
  const redisPasswords = Object.fromEntries(REDIS_USERS.map((user) => [user, placeholder(redisPasswordEnv(user))])) as Record<
    RedisUser,
    string
  >;
  return {
    redisPasswords,
    apiTokens: [placeholder('API_TOKENS')],
    grafanaAdminPassword: placeholder('GRAFANA_ADMIN_PASSWORD'),
  };
}

/** Whether `text` still holds a placeholder (a config that must go through the start-up script). */
export function hasPlaceholder(text: string): boolean {
  return /__SECRET_[A-Z0-9]+(_[A-Z0-9]+)*__/.test(text);
}
