/**
 * What the Pulumi program relies on inside each service's image: where the binary is, where its
 * configuration and data go, which user it runs as, and how its health is checked (with which tool).
 *
 * Every container sets its entrypoint/command, user and health check explicitly from these facts
 * instead of trusting an image's defaults, so that:
 * - the defaults (official images, pinned in config/model.ts `images`) work as they are, and
 * - any other image works as long as it honours these facts: a mirror of the official image, or the
 *   stand-in images the end-to-end tests build from Debian packages (they create exactly these paths,
 *   users and tools, e.g. by symlinking /usr/bin/redis-server to /usr/local/bin/redis-server).
 *
 * The facts are those of the default images (see each entry); `tools` lists every absolute path the
 * program executes in the container, which a stand-in must provide.
 */
import type { ServiceKind } from '../config';

/** A user as Docker's `--user` takes it, numeric so that no /etc/passwd lookup is needed. */
export interface ImageUser {
  readonly uid: number;
  readonly gid: number;
}

export interface ImageFacts {
  /** The image this describes (the model's default), for the reader. */
  readonly describes: string;
  /** The service's executable, absolute. */
  readonly binary: string;
  /**
   * The POSIX shell a start-up script runs with, where the program runs one (Redis and Sentinel:
   * infra/k8s/scripts/redis-start.sh, which also needs awk, sed, grep, tr and timeout on PATH).
   */
  readonly shell?: string;
  /** Where the program puts its configuration files, in the container. */
  readonly configDir: string;
  /** Where the service keeps data that lives on a named volume (undefined: nothing persistent). */
  readonly dataDir?: string;
  /** The user the process runs as. Uploaded files holding secrets are owned by it, mode 0600. */
  readonly user: ImageUser;
  /**
   * The program the Docker health check runs (absolute). Undefined where the image has no program to
   * run one with (a `FROM scratch` image holding only the service's binary): such a container gets no
   * Docker health check, and Prometheus watches it instead (`up == 0` fires TargetDown for it).
   */
  readonly healthTool?: string;
  /** Every absolute path the program executes in this container. */
  readonly tools: readonly string[];
}

const NOBODY: ImageUser = { uid: 65534, gid: 65534 };

/** redis:7.4.2-alpine: the official image's alpine user `redis` is 999, group `redis` 1000. */
const REDIS_USER: ImageUser = { uid: 999, gid: 1000 };

/**
 * Facts per service kind. The two redis_exporter kinds share one image, and so do Redis and Sentinel
 * (redis-sentinel is redis-server under another name).
 */
export const IMAGE_FACTS: Readonly<Record<ServiceKind, ImageFacts>> = {
  gateway: {
    describes: 'nginx:1.27.4-alpine',
    binary: '/usr/sbin/nginx',
    configDir: '/etc/nginx',
    // nginx runs unprivileged (pid and temp files under the model's gateway.runDir, on tmpfs), as the
    // image's `nginx` user; it listens above 1024 so it needs no capability.
    user: { uid: 101, gid: 101 },
    // busybox wget (the alpine image's).
    healthTool: '/usr/bin/wget',
    tools: ['/usr/sbin/nginx', '/usr/bin/wget'],
  },
  api: {
    describes: 'the image built from api/Dockerfile (official node:22 base)',
    binary: '/usr/local/bin/node',
    configDir: '/app',
    // The official node images' `node` user.
    user: { uid: 1000, gid: 1000 },
    // node itself (fetch is built in): the image needs no other tool.
    healthTool: '/usr/local/bin/node',
    tools: ['/usr/local/bin/node'],
  },
  redis: {
    describes: 'redis:7.4.2-alpine',
    binary: '/usr/local/bin/redis-server',
    shell: '/bin/sh',
    // The live redis.conf lives on the data volume (written at start by redis-start.sh from the uploaded
    // template): Sentinel makes Redis rewrite it (CONFIG REWRITE) on a failover.
    configDir: '/data',
    dataDir: '/data',
    user: REDIS_USER,
    // redis-cli PING as the read-only `exporter` ACL user, password from REDISCLI_AUTH; `-e` makes an
    // error reply (NOAUTH, LOADING…) a failed check, which plain redis-cli would not.
    healthTool: '/usr/local/bin/redis-cli',
    tools: ['/bin/sh', '/usr/local/bin/redis-server', '/usr/local/bin/redis-cli'],
  },
  sentinel: {
    describes: 'redis:7.4.2-alpine',
    // redis-start.sh runs redis-server with --sentinel (what redis-sentinel is a link to).
    binary: '/usr/local/bin/redis-server',
    shell: '/bin/sh',
    // Sentinel rewrites its own file and needs its directory writable.
    configDir: '/data',
    dataDir: '/data',
    user: REDIS_USER,
    healthTool: '/usr/local/bin/redis-cli',
    tools: ['/bin/sh', '/usr/local/bin/redis-server', '/usr/local/bin/redis-cli'],
  },
  // The exporters' official images are `FROM scratch`: the binary and CA certificates, nothing to run a
  // health check with (redis_exporter's `-alpine` variant has busybox wget at /usr/bin/wget).
  'redis-exporter': {
    describes: 'oliver006/redis_exporter:v1.67.0 (scratch)',
    binary: '/redis_exporter',
    configDir: '/etc/redis_exporter',
    user: { uid: 59000, gid: 59000 },
    tools: ['/redis_exporter'],
  },
  'sentinel-exporter': {
    describes: 'oliver006/redis_exporter:v1.67.0 (scratch)',
    binary: '/redis_exporter',
    configDir: '/etc/redis_exporter',
    user: { uid: 59000, gid: 59000 },
    tools: ['/redis_exporter'],
  },
  'nginx-exporter': {
    describes: 'nginx/nginx-prometheus-exporter:1.4.0 (scratch)',
    binary: '/usr/bin/nginx-prometheus-exporter',
    configDir: '/etc/nginx-prometheus-exporter',
    user: { uid: 1001, gid: 1001 },
    tools: ['/usr/bin/nginx-prometheus-exporter'],
  },
  prometheus: {
    describes: 'prom/prometheus:v2.55.1 (busybox base)',
    binary: '/bin/prometheus',
    configDir: '/etc/prometheus',
    dataDir: '/prometheus',
    user: NOBODY,
    healthTool: '/bin/wget',
    tools: ['/bin/prometheus', '/bin/wget'],
  },
  alertmanager: {
    describes: 'prom/alertmanager:v0.28.0 (busybox base)',
    binary: '/bin/alertmanager',
    configDir: '/etc/alertmanager',
    dataDir: '/alertmanager',
    user: NOBODY,
    healthTool: '/bin/wget',
    tools: ['/bin/alertmanager', '/bin/wget'],
  },
  grafana: {
    describes: 'grafana/grafana:11.4.0 (alpine base)',
    binary: '/usr/share/grafana/bin/grafana',
    configDir: '/etc/grafana',
    dataDir: '/var/lib/grafana',
    // The image's `grafana` user is 472 in group root (0).
    user: { uid: 472, gid: 0 },
    healthTool: '/usr/bin/wget',
    tools: ['/usr/share/grafana/bin/grafana', '/usr/bin/wget'],
  },
};

/** `uid:gid` as Docker's `user` takes it. */
export function userSpec(user: ImageUser): string {
  return `${user.uid}:${user.gid}`;
}

/** An HTTP health check with busybox/GNU wget: succeeds on a 2xx answer only. */
export function wgetHealthCheck(wget: string, url: string): string[] {
  return ['CMD', wget, '-q', '-T', '3', '-O', '/dev/null', url];
}
