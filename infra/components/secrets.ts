import * as pulumi from '@pulumi/pulumi';
import * as random from '@pulumi/random';

import { REDIS_USERS, type RedisUser, type StackSecrets } from '../../config';
import type { SecretKey } from '../settings';

export interface StackSecretsArgs {
  /** Secrets set in the stack config (`pulumi config set --secret`); every other one is generated. */
  readonly configured: Readonly<Partial<Record<SecretKey, pulumi.Output<string>>>>;
}

const REDIS_PASSWORD_KEYS: Readonly<Record<RedisUser, SecretKey>> = {
  api: 'redisApiPassword',
  replication: 'redisReplicationPassword',
  sentinel: 'redisSentinelPassword',
  exporter: 'redisExporterPassword',
  admin: 'redisAdminPassword',
};

/**
 * The stack's secrets (config/secrets.ts StackSecrets): taken from the stack config where set, else
 * generated once by @pulumi/random and kept, encrypted, in the Pulumi state, so a fresh `dev` stack
 * needs nobody to type a password and later `up`s keep the same ones.
 *
 * Generated passwords are 32 letters and digits: they go into redis.conf / sentinel.conf lines and env
 * variables unquoted (config/secrets.ts SECRET_PATTERN).
 */
export class StackSecretsComponent extends pulumi.ComponentResource {
  /** Every secret, as one secret Output. */
  public readonly values: pulumi.Output<StackSecrets>;

  constructor(name: string, args: StackSecretsArgs, opts?: pulumi.ComponentResourceOptions) {
    super('evergreen:secrets:StackSecrets', name, {}, opts);
    const generated = (key: string): pulumi.Output<string> =>
      pulumi.secret(
        new random.RandomPassword(`${name}-${key}`, { length: 32, special: false, minUpper: 2, minLower: 2, minNumeric: 2 }, { parent: this })
          .result,
      );
    const pick = (key: SecretKey): pulumi.Output<string> => args.configured[key] ?? generated(key);

    const redisPasswords = Object.fromEntries(REDIS_USERS.map((user) => [user, pick(REDIS_PASSWORD_KEYS[user])])) as Record<
      RedisUser,
      pulumi.Output<string>
    >;
    const apiTokens = pick('apiTokens').apply((tokens) =>
      tokens
        .split(',')
        .map((t) => t.trim())
        .filter((t) => t !== ''),
    );
    const webhook = args.configured.alertWebhookSecretUrl ?? pulumi.output<string | undefined>(undefined);
    this.values = pulumi.secret(
      pulumi.all([pulumi.all(redisPasswords), apiTokens, pick('grafanaAdminPassword'), webhook]).apply(
        ([passwords, tokens, grafanaAdminPassword, alertWebhookUrl]): StackSecrets => ({
          redisPasswords: passwords as Record<RedisUser, string>,
          apiTokens: tokens,
          grafanaAdminPassword,
          ...(alertWebhookUrl === undefined ? {} : { alertWebhookUrl }),
        }),
      ),
    );
    this.registerOutputs({});
  }
}
