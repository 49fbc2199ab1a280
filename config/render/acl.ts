/**
 * Redis and Sentinel ACL users (see contracts: default off; api, replication, sentinel, exporter, admin).
 * Each rule set is the least a client needs, with the reason next to it. Passwords come from
 * StackSecrets at render time; the rules here hold none.
 */
import type { RedisUser, StackSecrets } from '../secrets';

/**
 * What the API runs on Redis (api/src): reads and writes of its own keys (hashes, strings, sorted
 * sets, TTLs), its Lua scripts (EVALSHA, EVAL on NOSCRIPT, SCRIPT LOAD/EXISTS), MULTI/EXEC, WAIT for
 * durability, ROLE and INFO to check a node's role and replication offset (read-your-writes, readiness),
 * and connection commands (PING, CLIENT SETNAME, SELECT…). Everything @dangerous is removed again
 * (KEYS, FLUSHALL/FLUSHDB, CONFIG, DEBUG, SHUTDOWN, REPLICAOF, MONITOR, CLIENT KILL…), as are
 * functions and SCRIPT FLUSH/KILL; ROLE and INFO are @dangerous in Redis' categories, so they are
 * allowed back by name. Keys: all (the Redis deployment belongs to the API alone; its keys have no
 * common prefix). Pub/Sub: none (the API subscribes on the Sentinels, not on Redis).
 */
export const API_REDIS_RULES =
  'resetkeys ~* resetchannels -@all +@read +@write +@transaction +@scripting +@connection -@dangerous ' +
  '-function -fcall -fcall_ro -script|flush -script|kill -script|debug +info +role +wait';

/** A replica syncing from the master (`masteruser`): the replication handshake only. */
export const REPLICATION_REDIS_RULES = 'resetkeys resetchannels -@all +psync +replconf +ping';

/**
 * Sentinel monitoring and reconfiguring a Redis node (`sentinel auth-user`), as the Redis manual
 * lists it: INFO/ROLE/PING to monitor, hello messages over Pub/Sub, REPLICAOF (SLAVEOF) + CONFIG REWRITE
 * inside MULTI/EXEC to reconfigure, CLIENT KILL to drop clients of a demoted master, SCRIPT KILL for a
 * master stuck in a script.
 */
export const SENTINEL_REDIS_RULES =
  'resetkeys resetchannels &__sentinel__:hello -@all +multi +exec +slaveof +replicaof +ping +subscribe +publish ' +
  '+config|rewrite +role +info +client|setname +client|kill +script|kill';

/**
 * redis_exporter on a Redis node: INFO, CONFIG GET (maxmemory and friends), SLOWLOG and LATENCY
 * read-outs, CLIENT SETNAME/INFO, PING, SELECT. No key or channel access.
 */
export const EXPORTER_REDIS_RULES =
  'resetkeys resetchannels -@all +ping +select +info +config|get +client|setname +client|info +slowlog|get ' +
  '+slowlog|len +latency|latest +latency|histogram +memory|stats +cluster|info';

/** Operators, backups and tests: everything. */
export const ADMIN_RULES = 'resetkeys ~* resetchannels &* +@all';

/** The API on the Sentinels (ioredis sentinel mode): resolve the master and replicas, learn other
 * Sentinels, and subscribe to +switch-master to notice a failover at once. */
export const API_SENTINEL_RULES =
  'resetchannels &* -@all +ping +client|setname +client|getname +sentinel|get-master-addr-by-name ' +
  '+sentinel|sentinels +sentinel|slaves +sentinel|replicas +sentinel|master +subscribe +psubscribe ' +
  '+unsubscribe +punsubscribe';

/** Sentinels talking to each other (`sentinel sentinel-user`): peers vote on failovers and exchange
 * state; they are one trust domain, so they get everything on each other. */
export const PEER_SENTINEL_RULES = 'resetchannels &* +@all';

/** redis_exporter on a Sentinel: INFO and the SENTINEL read-outs. */
export const EXPORTER_SENTINEL_RULES =
  'resetchannels -@all +ping +info +client|setname +sentinel|masters +sentinel|master +sentinel|sentinels ' +
  '+sentinel|slaves +sentinel|replicas +sentinel|ckquorum';

/** Rules of each user on a Redis node. */
export const REDIS_USER_RULES: Readonly<Record<RedisUser, string>> = {
  api: API_REDIS_RULES,
  replication: REPLICATION_REDIS_RULES,
  sentinel: SENTINEL_REDIS_RULES,
  exporter: EXPORTER_REDIS_RULES,
  admin: ADMIN_RULES,
};

/** Rules of each user on a Sentinel (no replication user: replicas never talk to Sentinels). */
export const SENTINEL_USER_RULES: Readonly<Partial<Record<RedisUser, string>>> = {
  api: API_SENTINEL_RULES,
  sentinel: PEER_SENTINEL_RULES,
  exporter: EXPORTER_SENTINEL_RULES,
  admin: ADMIN_RULES,
};

/** The default user, off: a client that does not authenticate as a named user can do nothing.
 * `resetpass` also clears its `nopass` flag, which would otherwise keep protected mode in play.
 * It keeps every permission all the same: Redis replays the AOF as the default user and re-checks
 * ACLs at each EXEC (redis/redis#14541, fixed only after 7.4), so with `-@all` every transaction in
 * the AOF (every Lua-script write is one) is silently dropped on restart. Off, nobody can be it. */
export const DEFAULT_USER_LINE = 'user default off resetpass ~* &* +@all';

/** `user <name> on ><password> <rules>` lines for the given rule table. */
export function aclUserLines(rules: Readonly<Partial<Record<RedisUser, string>>>, secrets: StackSecrets): string[] {
  return [
    DEFAULT_USER_LINE,
    ...Object.entries(rules).map(
      ([user, rule]) => `user ${user} on resetpass >${secrets.redisPasswords[user as RedisUser]} ${rule as string}`,
    ),
  ];
}
