/**
 * The renderers' output (config/ renderAll) as the program uploads it into the containers.
 *
 * Files are rendered twice:
 * - with placeholder secrets, outside any Output: the content of every file that holds no secret is
 *   known as plain text, so `pulumi preview` shows its diff, and every file gets a "shape" (what it
 *   says, secrets left out) that the containers' config-hash label is computed from;
 * - with the real secrets, inside an Output: files that hold a secret are uploaded from here, as
 *   secret Outputs (the Docker provider keeps upload content in the state: it must be encrypted).
 * A file the renderers say holds no secret must come out identical both ways; the program stops if
 * not, rather than upload a secret in plain text.
 */
import * as pulumi from '@pulumi/pulumi';

import { REDIS_USERS, renderAll, type RedisUser, type RenderedFile, type StackSecrets, type StackSpec } from '../config';

export interface StackFile {
  /** Path relative to the rendered set, e.g. `redis/redis-0.conf`. */
  readonly path: string;
  /** What reads it (RenderedFile.service). */
  readonly service: string;
  readonly containsSecret: boolean;
  /** The content: plain text, or a secret Output when the file holds a secret. */
  readonly content: pulumi.Input<string>;
  /** The content rendered with placeholder secrets: what the file says, without the secrets. */
  readonly shape: string;
}

/** Fixed placeholder secrets: distinct, valid (config/secrets.ts SECRET_PATTERN), obviously not real. */
export function placeholderSecrets(options: { readonly alertWebhookUrl?: boolean } = {}): StackSecrets {
  return {
    ...(options.alertWebhookUrl ? { alertWebhookUrl: 'http://placeholder.invalid/alert-webhook-with-token' } : {}),
    redisPasswords: Object.fromEntries(REDIS_USERS.map((u) => [u, `placeholder-redis-${u}-password`])) as Record<
      RedisUser,
      string
    >,
    apiTokens: ['placeholder-api-token-0'],
    grafanaAdminPassword: 'placeholder-grafana-admin-password',
  };
}

/**
 * A file holding one secret value that a service reads by itself (a password file: `*_FILE`, `__FILE`), not one of
 * the renderers': its content a secret Output, `shape` what it says without the secret (for the config hash).
 */
export function secretValueFile(path: string, service: string, value: pulumi.Output<string>, shape: string): StackFile {
  return { path, service, containsSecret: true, content: pulumi.secret(value), shape };
}

export class StackFiles {
  private readonly files = new Map<string, StackFile>();

  /**
   * @param secretWebhook whether the secrets carry an Alertmanager webhook URL (it makes
   *   alertmanager.yml a file that holds a secret).
   */
  constructor(spec: StackSpec, secrets: pulumi.Output<StackSecrets>, secretWebhook = false) {
    const shapes = renderAll(spec, placeholderSecrets({ alertWebhookUrl: secretWebhook }));
    const real = secrets.apply((s) => {
      const rendered = renderAll(spec, s);
      const byPath = new Map(rendered.map((f) => [f.path, f]));
      for (const shape of shapes) {
        const actual = byPath.get(shape.path);
        if (actual === undefined) throw new Error(`renderAll gave ${shape.path} for placeholder secrets only`);
        if (!shape.containsSecret && actual.content !== shape.content) {
          throw new Error(
            `${shape.path} is marked containsSecret: false but its content depends on the secrets; refusing to upload it in plain text`,
          );
        }
      }
      return Object.fromEntries(rendered.map((f) => [f.path, f.content]));
    });
    for (const shape of shapes) {
      this.files.set(shape.path, {
        path: shape.path,
        service: shape.service,
        containsSecret: shape.containsSecret,
        content: shape.containsSecret ? pulumi.secret(real.apply((all) => all[shape.path] ?? '')) : shape.content,
        shape: shape.content,
      });
    }
  }

  /** The file at `path` (relative); throws when the renderers did not produce it. */
  get(path: string): StackFile {
    const file = this.files.get(path);
    if (!file) throw new Error(`the renderers produced no ${path} (have: ${[...this.files.keys()].join(', ')})`);
    return file;
  }

  /** Every file read by `service`. */
  forService(service: string): StackFile[] {
    return [...this.files.values()].filter((f) => f.service === service);
  }

  all(): StackFile[] {
    return [...this.files.values()];
  }
}

export type { RenderedFile };
