/**
 * The loopback topology's controls for failover tests: kill or pause the master through
 * `redisProcess`, follow the Sentinels with `currentMaster`, bring a node back with `restartRedis`.
 * With the test tuning (down-after 1200 ms, failover-timeout 5 s) a dead master is replaced, and a
 * second one after it too; the waits below are bounds, not measurements.
 */
import { startLoopbackTopology, type LoopbackTopology } from '../../support/loopback';
import { redisInfo } from '../../support/redis-probe';
import { waitFor } from '../../support/wait';

jest.setTimeout(180_000);

let topology: LoopbackTopology;

beforeAll(async () => {
  topology = await startLoopbackTopology({ apiInstances: 1, gateway: false });
});

afterAll(async () => {
  await topology?.stop();
});

function admin(): { username: string; password: string } {
  return { username: 'admin', password: topology.secrets.redisPasswords.admin };
}

async function newMasterAfter(oldPort: number): Promise<{ host: string; port: number }> {
  return waitFor(
    async () => {
      const master = await topology.currentMaster();
      if (master.port === oldPort) return undefined;
      const info = await redisInfo(master, admin(), 'replication');
      return info.role === 'master' ? master : undefined;
    },
    { what: `the Sentinels to promote a replica in place of ${oldPort}`, timeoutMs: 30_000, intervalMs: 100 },
  );
}

describe('failover on the loopback topology', () => {
  it('promotes a replica when the master is killed, and takes the old master back as a replica', async () => {
    const first = await topology.currentMaster();
    expect(first.port).toBe(topology.redisNodes[0]!.port);
    await topology.redisProcess(first.port).kill();

    const second = await newMasterAfter(first.port);
    expect(topology.redisNodes.slice(1).map((n) => n.port)).toContain(second.port);

    await topology.restartRedis(first.port);
    await waitFor(
      async () => {
        const info = await redisInfo({ host: '127.0.0.1', port: first.port }, admin(), 'replication');
        return info.role === 'slave' && info.master_port === String(second.port) && info.master_link_status === 'up';
      },
      { what: `the restarted ${first.port} to replicate from ${second.port}`, timeoutMs: 60_000, intervalMs: 200 },
    );
  });

  it('fails over again when the new master is paused (SIGSTOP)', async () => {
    const current = await topology.currentMaster();
    const paused = topology.redisProcess(current.port);
    paused.signal('SIGSTOP');
    try {
      const next = await newMasterAfter(current.port);
      expect(next.port).not.toBe(current.port);
    } finally {
      paused.signal('SIGCONT');
    }
    // The API instance follows the Sentinels to the new master by itself.
    await waitFor(async () => (await fetch(`${topology.apiUrls[0]!}/readyz`)).status === 200, {
      what: 'the API to report ready on the new master',
      timeoutMs: 30_000,
      intervalMs: 200,
    });
  });
});
