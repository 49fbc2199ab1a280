/**
 * Moving the Redis data from the Docker deployment into the Kubernetes StatefulSet, as docs/kubernetes.md
 * tells it, for real on loopback: a master configured like the Docker stack's (same renderer, target
 * loopback) holds data; its snapshot is taken with `redis-cli --rdb`; `redis-restore.sh` (from the
 * manifests' ConfigMap) puts it into an empty volume; the pod's start-up script and redis.conf template
 * (AOF on) start on that volume and serve the data, and keep it, with new writes, across a restart.
 * A corrupt snapshot is refused and changes nothing.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineStack, generateSecrets } from '../../../config';
import { renderRedisConf } from '../../../config/render';
import { freePort, startProcess, type ManagedProcess } from '../../support/processes';
import { redisCall } from '../../support/redis-probe';
import { synthesizePods } from './support/pods';

jest.setTimeout(90_000);

const secrets = generateSecrets('test-');
const admin = { username: 'admin', password: secrets.redisPasswords.admin };
// One node on each side: nothing to replicate to, so writes need no replica here.
const pods = synthesizePods({ redis: { minReplicasToWrite: 0 } });
let workDir: string;
let dockerPort: number;
let podPort: number;
let docker: ManagedProcess;
const KEYS = 500;

async function startPod(dataDir: string, scriptDir: string): Promise<ManagedProcess> {
  const unusedSentinel = await freePort();
  return startProcess({
    name: 'redis-0-pod',
    command: 'sh',
    args: [pods.scriptIn('redis-start.sh', scriptDir), 'redis', '--port', String(podPort), '--bind', '127.0.0.1'],
    env: {
      ...pods.podEnv('redis', 'redis-0', secrets),
      SENTINEL_ADDRESSES: `127.0.0.1:${unusedSentinel}`,
      REDIS_ADDRESSES: `127.0.0.1:${podPort}`,
      REDIS_BOOTSTRAP_MASTER_HOST: '127.0.0.1',
      REDIS_BOOTSTRAP_MASTER_PORT: String(podPort),
      REDIS_ANNOUNCE_HOST: '127.0.0.1',
      REDIS_PORT: String(podPort),
      REDIS_CONFIG_TEMPLATE: pods.templateIn('redis.conf.template', dataDir),
      REDIS_CONFIG_FILE: join(scriptDir, 'redis.conf'),
      // No Sentinel here: wait for one only briefly (30 s in the pod) before the pod is the master.
      REDIS_SENTINEL_WAIT_SECONDS: '1',
      REDIS_SERVER: 'redis-server',
      REDIS_CLI: 'redis-cli',
    },
    ready: async () => (await redisCall({ host: '127.0.0.1', port: podPort }, admin, 'PING').catch(() => '')) === 'PONG',
  });
}

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'evergreen-k8s-migration-'));
  dockerPort = await freePort();
  podPort = await freePort();
  // The Docker stack's master, configured by the same renderer (AOF on, ACL users, default user off).
  const dockerSpec = defineStack(
    { redis: { minReplicasToWrite: 0 }, ports: { 'redis-0': dockerPort }, loopback: { workDir: join(workDir, 'docker') } },
    'loopback',
  );
  const node = dockerSpec.redis.initialMaster;
  mkdirSync(node.dataDir, { recursive: true });
  const conf = join(workDir, 'docker-redis-0.conf');
  writeFileSync(conf, renderRedisConf(dockerSpec, secrets, node));
  docker = await startProcess({
    name: 'docker-redis-0',
    command: 'redis-server',
    args: [conf],
    ready: async () => (await redisCall({ host: '127.0.0.1', port: dockerPort }, admin, 'PING').catch(() => '')) === 'PONG',
  });
  const pairs = Array.from({ length: KEYS }, (_, i) => [`product:${i}`, JSON.stringify({ id: i, stock: i * 3 })]).flat();
  await redisCall({ host: '127.0.0.1', port: dockerPort }, admin, 'MSET', ...pairs);
  await redisCall({ host: '127.0.0.1', port: dockerPort }, admin, 'HSET', 'purchase:1', 'userId', 'u1', 'quantity', '2');
});

afterAll(async () => {
  await docker?.stop();
  rmSync(workDir, { recursive: true, force: true });
});

it('a snapshot of the Docker master, restored into the volume, is what the pod serves and keeps', async () => {
  const snapshot = join(workDir, 'dump.rdb');
  const dump = spawnSync(
    'redis-cli',
    ['--no-auth-warning', '--user', 'admin', '-h', '127.0.0.1', '-p', String(dockerPort), '--rdb', snapshot],
    { env: { ...process.env, REDISCLI_AUTH: admin.password }, encoding: 'utf8', timeout: 30_000 },
  );
  expect(dump.status).toBe(0);

  const volume = join(workDir, 'volume-redis-0');
  mkdirSync(volume);
  writeFileSync(join(volume, 'dump.rdb'), 'an old node file that must not win'); // what a previous run might have left
  const restore = spawnSync('sh', [pods.scriptIn('redis-restore.sh', workDir), snapshot, volume], { encoding: 'utf8' });
  expect(restore.stderr).toMatch(/restored into/);
  expect(restore.status).toBe(0);

  const pod = await startPod(volume, workDir);
  const at = { host: '127.0.0.1', port: podPort };
  await expect(redisCall(at, admin, 'DBSIZE')).resolves.toBe(KEYS + 1);
  await expect(redisCall(at, admin, 'GET', 'product:123')).resolves.toBe(JSON.stringify({ id: 123, stock: 369 }));
  await expect(redisCall(at, admin, 'HGET', 'purchase:1', 'quantity')).resolves.toBe('2');
  expect(pod.logTail(20)).toMatch(/starting as master/);

  // Written after the migration, then a restart of the pod: both the restored and the new data stay.
  await redisCall(at, { username: 'api', password: secrets.redisPasswords.api }, 'SET', 'purchase:2', 'after-migration');
  await pod.stop();
  await startPod(volume, workDir);
  await expect(redisCall(at, admin, 'DBSIZE')).resolves.toBe(KEYS + 2);
  await expect(redisCall(at, admin, 'GET', 'purchase:2')).resolves.toBe('after-migration');
});

it('refuses a corrupt snapshot and leaves the volume as it was', () => {
  const volume = join(workDir, 'volume-untouched');
  mkdirSync(join(volume, 'appendonlydir'), { recursive: true });
  writeFileSync(join(volume, 'appendonlydir', 'appendonly.aof.manifest'), 'file appendonly.aof.1.base.rdb seq 1 type b\n');
  const bad = join(workDir, 'corrupt.rdb');
  writeFileSync(bad, 'REDIS0011 this is not a snapshot');
  const before = readdirSync(volume, { recursive: true }).sort();
  const restore = spawnSync('sh', [pods.scriptIn('redis-restore.sh', workDir), bad, volume], { encoding: 'utf8' });
  expect(restore.status).toBe(1);
  expect(restore.stderr).toMatch(/is not a valid RDB snapshot; .* is unchanged/);
  expect(readdirSync(volume, { recursive: true }).sort()).toEqual(before);
});
