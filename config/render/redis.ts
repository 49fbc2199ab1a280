/**
 * redis.conf for one Redis node. Master and replicas share one file shape: every node carries the
 * replication credentials (a master becomes a replica after a failover, and the other way round);
 * only a node that starts as a replica gets `replicaof`. Sentinel takes over the roles from there.
 */
import type { RedisNode, StackSpec } from '../model';
import type { StackSecrets } from '../secrets';
import { aclUserLines, REDIS_USER_RULES } from './acl';

/** A quoted value for redis.conf / sentinel.conf (paths are validated to hold no quotes or newlines). */
export function quote(value: string): string {
  return `"${value}"`;
}

export function renderRedisConf(spec: StackSpec, secrets: StackSecrets, node: RedisNode): string {
  const r = spec.redis;
  const master = r.initialMaster;
  const save = r.savePoints.length === 0 ? 'save ""' : `save ${r.savePoints.map(([s, c]) => `${s} ${c}`).join(' ')}`;
  const lines: string[] = [
    `# redis.conf for ${node.name} of stack ${spec.name} (target ${spec.target}); rendered by config/render/redis.ts.`,
    '# Holds ACL passwords: deploy it as a secret, never commit a rendered copy.',
    '',
    '# --- network ---',
    `bind ${r.bind}`,
    `port ${node.port}`,
    '# Access is controlled by ACL users below (the default user is off) and by the network (Docker network,',
    '# NetworkPolicies, loopback), so protected mode has nothing to add.',
    'protected-mode no',
    'tcp-keepalive 60',
    'timeout 0',
    '',
    '# --- process: in the foreground, logging to stdout (the container runtime or launcher keeps the log) ---',
    'daemonize no',
    'supervised no',
    'logfile ""',
    'loglevel notice',
    `dir ${quote(node.dataDir)}`,
    '',
    '# --- persistence: RDB snapshots (shipped out by `npm run backup`) and an AOF for every write ---',
    save,
    'dbfilename dump.rdb',
    'rdbcompression yes',
    'rdbchecksum yes',
    '# A failing snapshot stops writes, so a full disk is noticed instead of silently losing durability.',
    'stop-writes-on-bgsave-error yes',
    'appendonly yes',
    'appendfilename "appendonly.aof"',
    'appenddirname "appendonlydir"',
    `appendfsync ${r.appendfsync}`,
    'no-appendfsync-on-rewrite no',
    'aof-use-rdb-preamble yes',
    'auto-aof-rewrite-percentage 100',
    'auto-aof-rewrite-min-size 64mb',
    '',
    '# --- memory ---',
    `maxmemory ${r.maxmemory}`,
    `maxmemory-policy ${r.maxmemoryPolicy}`,
    '',
    '# --- replication ---',
    '# Every node authenticates to its master as the `replication` user: any node may be a replica after a failover.',
    'masteruser replication',
    `masterauth ${secrets.redisPasswords.replication}`,
    '# The address other nodes and the Sentinels reach this node at (Sentinels learn replicas from the master).',
    `replica-announce-ip ${node.host}`,
    `replica-announce-port ${node.port}`,
    'replica-read-only yes',
    '# A replica cut off from its master refuses reads (MASTERDOWN) instead of serving data older than a',
    '# write the client already saw acknowledged: read-your-writes (shared/docs/API.md) wins over availability.',
    'replica-serve-stale-data no',
    '# A master that cannot reach enough replicas refuses writes (NOREPLICAS): what it would accept alone',
    '# could be lost by the failover that follows. The API also WAITs for a replica before answering 201.',
    `min-replicas-to-write ${r.minReplicasToWrite}`,
    `min-replicas-max-lag ${r.minReplicasMaxLagSeconds}`,
    'repl-diskless-sync yes',
    'repl-diskless-sync-delay 1',
    '# Sentinel prefers replicas with a lower priority; 0 would exclude a node from promotion.',
    'replica-priority 100',
    '',
    '# --- users (ACL); the default user is off ---',
    ...aclUserLines(REDIS_USER_RULES, secrets),
  ];
  if (node.initialRole === 'replica') {
    lines.push('', `# Starts as a replica of ${master.name}; Sentinel reconfigures it after a failover.`);
    lines.push(`replicaof ${master.host} ${master.port}`);
  }
  return `${lines.join('\n')}\n`;
}
