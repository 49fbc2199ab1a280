/**
 * The loopback topology itself: the processes it starts are the contract's (a master and replicas in
 * sync, Sentinels that agree, API instances behind nginx that answer with the token), they run the
 * rendered configuration files, and stop() leaves no process and no directory behind.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { StackValidationError, renderNginxConf, renderRedisConf, sentinelConfPath } from '../../../config';
import { startLoopbackTopology, type LoopbackTopology } from '../../support/loopback';
import { isAlive, runningProcesses, stopAll } from '../../support/processes';
import { pairsToRecord, redisCall, redisInfo } from '../../support/redis-probe';
import { waitFor } from '../../support/wait';
import { commandLine, processTree } from './proc';

jest.setTimeout(120_000);

let topology: LoopbackTopology;

beforeAll(async () => {
  topology = await startLoopbackTopology();
});

afterAll(async () => {
  await topology?.stop();
});

function admin(t: LoopbackTopology): { username: string; password: string } {
  return { username: 'admin', password: t.secrets.redisPasswords.admin };
}

describe('startLoopbackTopology (defaults)', () => {
  it('starts exactly nginx, 2 API instances, a master with 2 replicas and 3 Sentinels', () => {
    const names = [...topology.processes().keys()].sort();
    expect(names).toEqual(['api-0', 'api-1', 'gateway', 'redis-0', 'redis-1', 'redis-2', 'sentinel-0', 'sentinel-1', 'sentinel-2']);
    for (const p of topology.processes().values()) expect(p.running).toBe(true);
    expect(topology.redisNodes).toHaveLength(3);
    expect(topology.sentinels).toHaveLength(3);
    expect(topology.apiUrls).toHaveLength(2);
    expect(topology.gatewayUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const ports = [
      ...topology.redisNodes.map((n) => n.port),
      ...topology.sentinels.map((s) => s.port),
      ...topology.apiUrls.map((u) => Number(new URL(u).port)),
      Number(new URL(topology.gatewayUrl ?? '').port),
    ];
    expect(new Set(ports).size).toBe(ports.length);
  });

  it('has the master and both replicas in sync', async () => {
    const [master, ...replicas] = topology.redisNodes;
    const masterInfo = await redisInfo(master!, admin(topology), 'replication');
    expect(masterInfo.role).toBe('master');
    expect(masterInfo.connected_slaves).toBe('2');
    for (const replica of replicas) {
      const info = await redisInfo(replica, admin(topology), 'replication');
      expect(info).toMatchObject({
        role: 'slave',
        master_host: '127.0.0.1',
        master_port: String(master!.port),
        master_link_status: 'up',
      });
    }
    // A write on the master reaches every replica.
    await redisCall(master!, admin(topology), 'SET', 'loopback:probe', 'fern');
    await redisCall(master!, admin(topology), 'WAIT', 2, 5_000);
    for (const replica of replicas) {
      expect(await redisCall(replica, admin(topology), 'GET', 'loopback:probe')).toBe('fern');
    }
  });

  it('has Sentinels that agree on the master and see every replica and each other', async () => {
    const master = topology.redisNodes[0]!;
    await expect(topology.currentMaster()).resolves.toEqual({ host: '127.0.0.1', port: master.port });
    for (const sentinel of topology.sentinels) {
      const state = pairsToRecord(await redisCall(sentinel, admin(topology), 'SENTINEL', 'MASTER', topology.masterName));
      expect(state).toMatchObject({
        ip: '127.0.0.1',
        port: String(master.port),
        flags: 'master',
        'num-slaves': '2',
        'num-other-sentinels': '2',
        quorum: '2',
      });
    }
  });

  it('serves the API through nginx, with the token only', async () => {
    const gateway = topology.gatewayUrl!;
    const auth = { authorization: `Bearer ${topology.apiToken}` };
    const unauthorized = await fetch(`${gateway}/v1/products`);
    expect(unauthorized.status).toBe(401);

    const created = await fetch(`${gateway}/v1/products`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Fern', priceCents: 1299, stock: 5 }),
    });
    expect(created.status).toBe(201);
    const product = (await created.json()) as { id: string; name: string };
    expect(product.name).toBe('Fern');
    // Both instances (directly, not through nginx) see it: they share the Redis behind the Sentinels.
    for (const api of topology.apiUrls) {
      const read = await fetch(`${api}/v1/products/${product.id}`, { headers: auth });
      expect(read.status).toBe(200);
    }
  });

  it('runs the rendered configuration files, changed only in addresses, ports and paths', async () => {
    for (const node of topology.spec.redis.nodes) {
      // redis-server rewrites its process title, so ask it which file it read.
      const conf = (await redisInfo(node, admin(topology), 'server')).config_file;
      expect(conf).toBe(join(node.dataDir, 'redis.conf'));
      expect(conf!.startsWith(topology.workDir)).toBe(true);
      expect(readFileSync(conf!, 'utf8')).toBe(renderRedisConf(topology.spec, topology.secrets, node));
    }
    for (const sentinel of topology.sentinels) {
      const conf = (await redisInfo(sentinel, admin(topology), 'server')).config_file;
      expect(conf).toBe(sentinelConfPath(topology.spec.sentinel.instances.find((s) => s.port === sentinel.port)!));
      // Sentinel rewrites its own file, keeping the rendered directives (and appending what it learnt).
      expect(readFileSync(conf!, 'utf8')).toMatch(new RegExp(`^sentinel down-after-milliseconds ${topology.masterName} ${topology.spec.sentinel.downAfterMs}$`, 'm'));
    }
    const nginx = topology.processes().get('gateway')!;
    // nginx's master sets its title to "nginx: master process <command line>".
    const nginxConf = / -c (\S+)/.exec(commandLine(nginx.pid).join(' '))?.[1] ?? '';
    expect(nginxConf).toBe(join(topology.spec.gateway.runDir, 'nginx.conf'));
    expect(readFileSync(nginxConf, 'utf8')).toBe(renderNginxConf(topology.spec));
    expect(nginxConf.startsWith(topology.workDir)).toBe(true);
  });

  it('keeps each process log in the work dir', () => {
    for (const [name, process] of topology.processes()) {
      expect(process.logFile).toBe(join(topology.logDir, `${name}.log`));
      expect(existsSync(process.logFile)).toBe(true);
    }
    expect(readFileSync(join(topology.logDir, 'redis-0.log'), 'utf8')).toMatch(/Ready to accept connections/);
  });

  it('stops and starts one API instance while nginx keeps serving from the other', async () => {
    const auth = { authorization: `Bearer ${topology.apiToken}` };
    const before = topology.processes().get('api-0')!;
    await topology.stopApi(0);
    expect(isAlive(before.pid)).toBe(false);
    for (let i = 0; i < 4; i += 1) {
      expect((await fetch(`${topology.gatewayUrl!}/v1/products`, { headers: auth })).status).toBe(200);
    }
    await topology.startApi(0);
    const after = topology.processes().get('api-0')!;
    expect(after.pid).not.toBe(before.pid);
    expect((await fetch(`${topology.apiUrls[0]!}/readyz`)).status).toBe(200);
  });

  it('stop() leaves no process (nginx workers included) and no work dir behind', async () => {
    const pids = [...topology.processes().values()].flatMap((p) => processTree(p.pid));
    const nginxTree = processTree(topology.processes().get('gateway')!.pid);
    expect(nginxTree.length).toBeGreaterThan(1); // the master and its workers
    await topology.stop();
    expect(pids.filter(isAlive)).toEqual([]);
    expect(existsSync(topology.workDir)).toBe(false);
    expect(runningProcesses()).toEqual([]);
    await topology.stop(); // a second stop is harmless
  });
});

describe('startLoopbackTopology (bad input)', () => {
  it('refuses an invalid topology with the validation error, starting nothing', async () => {
    const workDir = join(topology.workDir, '..', `never-created-${process.pid}`);
    const start = startLoopbackTopology({ sentinels: 2, workDir });
    await expect(start).rejects.toBeInstanceOf(StackValidationError);
    await expect(start).rejects.toThrow(/sentinel/i);
    expect(runningProcesses()).toEqual([]);
    expect(existsSync(workDir)).toBe(false);
  });
});

describe('startLoopbackTopology (interrupted)', () => {
  it('stops the processes that are still starting when it is stopped half-way (Ctrl-C, end of a test file)', async () => {
    const starting = startLoopbackTopology();
    const outcome = starting.then(
      (t) => t,
      (error: unknown) => error as Error,
    );
    // The replicas are spawned but not in sync yet, or the Sentinels are starting: stop it all now.
    const replica = await waitFor(() => runningProcesses().find((p) => p.name === 'redis-1'), {
      what: 'the first replica to be spawned',
      timeoutMs: 60_000,
      intervalMs: 5,
    });
    const workDir = join(replica.logFile, '..', '..');
    await stopAll();
    const result = await outcome;
    if (!(result instanceof Error)) await result.stop(); // it won the race: it had finished starting
    expect(isAlive(replica.pid)).toBe(false);
    expect(runningProcesses()).toEqual([]);
    await waitFor(() => !existsSync(workDir), { what: `${workDir} to be removed`, timeoutMs: 10_000 });
  });
});
