/**
 * sentinel.conf for one Sentinel. Sentinel rewrites its own config file (it records the current master,
 * the known replicas and Sentinels, epochs), so the rendered file must be copied to a writable place
 * (the Sentinel's data directory) before it starts; it is a seed, not the live state.
 */
import type { SentinelInstance, StackSpec } from '../model';
import type { StackSecrets } from '../secrets';
import { aclUserLines, SENTINEL_USER_RULES } from './acl';
import { quote } from './redis';

/** Where the Sentinel's live config file is (the rendered file is copied there before start). */
export function sentinelConfPath(sentinel: SentinelInstance): string {
  return `${sentinel.dataDir}/sentinel.conf`;
}

export function renderSentinelConf(spec: StackSpec, secrets: StackSecrets, sentinel: SentinelInstance): string {
  const s = spec.sentinel;
  const name = spec.redis.masterName;
  const lines: string[] = [
    `# sentinel.conf for ${sentinel.name} of stack ${spec.name} (target ${spec.target}); rendered by config/render/sentinel.ts.`,
    '# Sentinel rewrites this file: copy it to a writable place (its data directory) before starting it.',
    '# Holds ACL passwords: deploy it as a secret, never commit a rendered copy.',
    '',
    `bind ${s.bind}`,
    `port ${sentinel.port}`,
    'protected-mode no',
    'daemonize no',
    'logfile ""',
    `dir ${quote(sentinel.dataDir)}`,
    '# Clients reconfiguration scripts cannot be changed at run time (SENTINEL SET).',
    'sentinel deny-scripts-reconfig yes',
    '',
    '# --- how this Sentinel is reached by the others and by clients ---',
  ];
  if (s.useHostnames) {
    lines.push(
      '# Pods change IPs on restart: Sentinels resolve and announce stable DNS names instead.',
      'sentinel resolve-hostnames yes',
      'sentinel announce-hostnames yes',
    );
  }
  lines.push(
    `sentinel announce-ip ${sentinel.host}`,
    `sentinel announce-port ${sentinel.port}`,
    '',
    '# --- users of this Sentinel (ACL); the default user is off ---',
    ...aclUserLines(SENTINEL_USER_RULES, secrets),
    '# How this Sentinel authenticates to its peers (they know the same `sentinel` user).',
    'sentinel sentinel-user sentinel',
    `sentinel sentinel-pass ${secrets.redisPasswords.sentinel}`,
    '',
    '# --- the monitored master ---',
    `# ${s.quorum} of ${s.count} Sentinels must agree the master is down; a majority must authorise the failover.`,
    s.monitorLine,
    `sentinel auth-user ${name} sentinel`,
    `sentinel auth-pass ${name} ${secrets.redisPasswords.sentinel}`,
    `# ${s.downAfterMs} ms without a valid reply and the master is subjectively down (see config/model.ts for why).`,
    `sentinel down-after-milliseconds ${name} ${s.downAfterMs}`,
    `sentinel failover-timeout ${name} ${s.failoverTimeoutMs}`,
    `sentinel parallel-syncs ${name} ${s.parallelSyncs}`,
  );
  return `${lines.join('\n')}\n`;
}
