import { createHash } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import Redis, { type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import type { ApiConfig } from '../config';
import { ProblemError, ServiceUnavailableError } from '../errors';
import type { ApiMetrics } from '../ops/metrics';
import * as scripts from './scripts';

/** A Lua script: its text and the SHA-1 that EVALSHA names it by. */
export interface LuaScript {
  readonly lua: string;
  readonly sha: string;
}

/** A write script: also how many of its arguments are KEYS. */
interface WriteScript extends LuaScript {
  readonly numberOfKeys: number;
}

function luaScript(lua: string): LuaScript {
  return { lua, sha: createHash('sha1').update(lua).digest('hex') };
}

/** The write scripts (redis/scripts.ts), by the name the stores run them with (WriteSession.script). */
export const WRITE_SCRIPTS = {
  createUser: { ...luaScript(scripts.CREATE_USER), numberOfKeys: 3 },
  updateUser: { ...luaScript(scripts.UPDATE_USER), numberOfKeys: 2 },
  deleteUser: { ...luaScript(scripts.DELETE_USER), numberOfKeys: 2 },
  createProduct: { ...luaScript(scripts.CREATE_PRODUCT), numberOfKeys: 2 },
  updateProduct: { ...luaScript(scripts.UPDATE_PRODUCT), numberOfKeys: 1 },
  deleteProduct: { ...luaScript(scripts.DELETE_PRODUCT), numberOfKeys: 2 },
  purchase: { ...luaScript(scripts.PURCHASE), numberOfKeys: 5 },
} as const satisfies Record<string, WriteScript>;
export type ScriptName = keyof typeof WRITE_SCRIPTS;

/** The read scripts (redis/scripts.ts), by the name the stores run them with (RedisGateway.readScript). */
export const READ_SCRIPTS = {
  readPage: luaScript(scripts.READ_PAGE),
} as const satisfies Record<string, LuaScript>;
export type ReadScriptName = keyof typeof READ_SCRIPTS;

/** What kind of Redis failure an error is (label of evergreen_redis_errors_total). */
export function redisErrorKind(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  if (/timed? ?out/i.test(msg)) return 'timeout';
  if (/^READONLY|READONLY You can't write/.test(msg)) return 'readonly';
  if (/NOREPLICAS/.test(msg)) return 'noreplicas';
  if (/^LOADING|MASTERDOWN/.test(msg)) return 'loading';
  if (
    /Connection is closed|Stream isn't writeable|ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH|sentinel|MaxRetriesPerRequest|Reached the max retries|not connected|aborted due to connection close/i.test(
      msg,
    )
  ) {
    return 'connection';
  }
  return 'other';
}

/**
 * Two ioredis clients through Sentinel: `master` for every write (and the fence of each read), `replica` for
 * reads. Both are built so that no request waits past a bounded time during a failover:
 * - enableOfflineQueue: false — while a client is (re)connecting, commands fail at once (→ 503) instead of
 *   queueing and being sent, possibly much later, after the client has already been told 503;
 * - autoResendUnfulfilledCommands: false — commands whose reply was lost with the connection are not re-sent
 *   (their outcome is unknown to the client anyway; a retried purchase is made safe by its Idempotency-Key, and
 *   every write script is idempotent on its own id in case a command reached Redis twice);
 * - commandTimeout bounds a command sent to a paused/hung master; keepAlive, and SentinelWatcher (subscription to
 *   +switch-master on the sentinels) make the client drop the old master as soon as Sentinel elects a new one;
 * - reconnectOnError: a READONLY reply means we talk to a demoted master: reconnect (re-asks Sentinel) and fail
 *   that command (→ 503) rather than re-sending it;
 * - retry strategies reconnect quickly (≤ 250 ms apart), forever: the service recovers by itself;
 * - no auto-pipelining (see there for why).
 */
export function createRedisClients(
  config: ApiConfig,
  logger: Logger,
): { master: Redis; writers: Redis[]; replica: Redis | undefined; watcher: SentinelWatcher } {
  const base: RedisOptions = {
    sentinels: config.sentinels.map((s) => ({ host: s.host, port: s.port })),
    name: config.masterName,
    username: config.redisUsername,
    password: config.redisPassword,
    sentinelUsername: config.redisUsername,
    sentinelPassword: config.redisPassword,
    connectTimeout: config.connectTimeoutMs,
    sentinelCommandTimeout: config.connectTimeoutMs,
    commandTimeout: config.commandTimeoutMs,
    keepAlive: 1000,
    // When ioredis drops a connection on purpose (reconnectOnError on READONLY, our disconnect(true)) it end()s
    // the socket and reconnects on 'close'; a paused or hung peer never closes, so destroy it after 200 ms
    // (ioredis default: 2 s).
    disconnectTimeout: 200,
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 1,
    // ioredis' own failoverDetector is replaced by SentinelWatcher (see there for why)
    failoverDetector: false,
    // Off on purpose. ioredis keeps one auto-pipeline in flight per client and queues later commands behind it;
    // when the connection is lost before its replies (autoResendUnfulfilledCommands: false), that pipeline settles
    // only at commandTimeout, and the queued commands are then sent to the *new* master — a purchase the client was
    // already answered 503 for would be created there, without a WAIT. It also saved no measurable CPU
    // (docs/performance.md).
    enableAutoPipelining: false,
    retryStrategy: (times) => Math.min(50 * times, 250),
    sentinelRetryStrategy: (times) => Math.min(50 * times, 250),
    sentinelReconnectStrategy: (times) => Math.min(100 * times, 1000),
    reconnectOnError: (err) => (/READONLY/.test(err.message) ? 1 : false),
  };
  const newMaster = (connectionName: string): Redis => {
    const client = new Redis({ ...base, role: 'master', connectionName });
    client.on('error', (err: Error) => logger.warn({ err: err.message, client: connectionName }, 'redis master client error'));
    return client;
  };
  // `master` never runs WAIT (fences, readiness, fallback reads); writes and their WAITs spread over `writers`
  const master = newMaster('evergreen-api-master');
  const writers = Array.from({ length: config.writeConnections }, (_, i) => newMaster(`evergreen-api-writer-${i}`));
  let replica: Redis | undefined;
  if (config.readFromReplicas) {
    replica = new Redis({ ...base, role: 'slave', connectionName: 'evergreen-api-replica' });
    replica.on('error', (err: Error) => logger.debug({ err: err.message, client: 'replica' }, 'redis replica client error'));
  }
  const watcher = new SentinelWatcher(config, [master, ...writers, ...(replica ? [replica] : [])], logger);
  return { master, writers, replica, watcher };
}

/**
 * Watches the Sentinels' `+switch-master` announcements and moves the clients to the new master at once.
 *
 * It replaces ioredis' `failoverDetector`, which (in 5.9) reconnects on every `+switch-master` message —
 * including the repeat the leader Sentinel publishes at `+failover-end`, about a second later, which drops the
 * freshly made connection again — and which only `end()`s the old socket, so with a paused master the client
 * waits for disconnectTimeout before it lets go. Here a client reconnects only when the announced master is not the
 * address it is connected to, and its socket is destroyed, so commands in flight fail now (→ 503, see
 * RedisGateway) and ioredis asks Sentinel for the new master right away.
 */
export class SentinelWatcher {
  private readonly subscribers: Redis[];

  constructor(
    config: Pick<ApiConfig, 'sentinels' | 'masterName' | 'redisUsername' | 'redisPassword' | 'connectTimeoutMs'>,
    private readonly clients: readonly Redis[],
    private readonly logger: Logger,
  ) {
    this.subscribers = config.sentinels.map((s) => {
      const sub = new Redis({
        host: s.host,
        port: s.port,
        username: config.redisUsername,
        password: config.redisPassword,
        connectTimeout: config.connectTimeoutMs,
        keepAlive: 1000,
        connectionName: 'evergreen-api-failover-watch',
        retryStrategy: (times) => Math.min(100 * times, 1000),
        maxRetriesPerRequest: null,
      });
      sub.on('error', (err: Error) => logger.debug({ err: err.message, sentinel: `${s.host}:${s.port}` }, 'sentinel watch error'));
      sub.subscribe('+switch-master').catch((err: Error) => logger.warn({ err: err.message }, 'cannot subscribe to +switch-master'));
      sub.on('message', (_channel: string, message: string) => {
        // "<master name> <old ip> <old port> <new ip> <new port>"
        const [name, , , host, port] = message.split(' ');
        if (name === config.masterName && host !== undefined && port !== undefined) this.switchTo(host, Number(port));
      });
      return sub;
    });
  }

  private switchTo(host: string, port: number): void {
    // Sentinels may announce hostnames (resolve-hostnames, e.g. on Kubernetes) while a socket knows only the
    // peer's IP: compare IPs. If the name does not resolve, every client is moved (the safe direction).
    void lookup(host, { all: true })
      .then((found) => found.map((a) => a.address))
      .catch(() => [] as string[])
      .then((addresses) => {
        const announced = new Set([host, ...addresses].map((a) => `${a.replace(/^::ffff:/, '')}:${port}`));
        for (const client of this.clients) {
          const stream = (client as unknown as { stream?: { remoteAddress?: string; remotePort?: number; destroy(): void } }).stream;
          const connectedTo = `${(stream?.remoteAddress ?? '').replace(/^::ffff:/, '')}:${stream?.remotePort ?? ''}`;
          const isMasterClient = (client.options as { role?: string }).role === 'master';
          // a master client must be on the new master; a replica client must not be (it was promoted)
          const wrong = isMasterClient ? !announced.has(connectedTo) : announced.has(connectedTo);
          if (wrong && stream && client.status === 'ready') {
            this.logger.warn({ to: `${host}:${port}`, from: connectedTo, client: isMasterClient ? 'master' : 'replica' }, 'sentinel announced a new master: reconnecting');
            stream.destroy();
          }
        }
      });
  }

  close(): void {
    for (const sub of this.subscribers) sub.disconnect();
  }
}

/**
 * Rejects, at once, every command in flight on a client's connection when that connection closes. ioredis with
 * autoResendUnfulfilledCommands: false silently drops such commands, whose promises would then only settle at
 * commandTimeout; racing them against this signal turns a lost connection into an immediate 503.
 *
 * Not `Promise.race([work, aPromiseSettledOnClose])`: each race would leave a reaction on that promise, which lives as
 * long as the connection (days), and through it every reply — the heap grew with every command. Each call here
 * registers its rejecter only until its own command settles.
 */
export class ConnectionLoss {
  private readonly inFlight = new Set<(err: Error) => void>();

  constructor(client: Redis) {
    client.on('close', () => {
      const rejecters = [...this.inFlight];
      this.inFlight.clear();
      const lost = new Error('Connection is closed.');
      for (const reject of rejecters) reject(lost);
    });
  }

  /** `work`, or a rejection if the connection closes first. */
  race<T>(work: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.inFlight.add(reject);
      work.then(
        (value) => {
          this.inFlight.delete(reject);
          resolve(value);
        },
        (err: unknown) => {
          this.inFlight.delete(reject);
          reject(err as Error);
        },
      );
    });
  }
}

/** Redis error replies that say this service is wrong, not that Redis is unavailable: a script's run-time error, WRONGTYPE. */
const BUG_REPLY = /^(ERR user_script:|ERR Error running script|WRONGTYPE )/;

/**
 * How long a read waits for the replica's side of the fence before it reads from the master instead: a paused or
 * overloaded replica must not hold reads for the whole command timeout.
 */
export const REPLICA_FENCE_DEADLINE_MS = 250;

/** What withinFenceDeadline gives for a replica's reply that failed or came too late (a reply itself may be null). */
const MISSED: unique symbol = Symbol('missed');

/** `work`'s value, or MISSED if it fails or takes longer than REPLICA_FENCE_DEADLINE_MS. */
function withinFenceDeadline<T>(work: Promise<T>): Promise<T | typeof MISSED> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<typeof MISSED>((resolve) => {
    timer = setTimeout(() => resolve(MISSED), REPLICA_FENCE_DEADLINE_MS);
  });
  return Promise.race([work.catch((): typeof MISSED => MISSED), deadline]).finally(() => clearTimeout(timer));
}

/** Parses a ROLE reply: master → its replication offset; replica → its processed offset and link state. */
export function parseRole(reply: unknown): { role: 'master'; offset: number } | { role: 'slave'; state: string; offset: number } | undefined {
  if (!Array.isArray(reply)) return undefined;
  if (reply[0] === 'master') return { role: 'master', offset: Number(reply[1]) };
  if (reply[0] === 'slave') return { role: 'slave', state: String(reply[3]), offset: Number(reply[4]) };
  return undefined;
}

/**
 * The data-access edge: every Redis call of the stores goes through `writer()` (WriteSession) or a read (`hgetall`,
 * `readScript`: one command each, behind the fence below), which turn Redis failures into a 503 problem and count
 * them.
 *
 * Read-your-writes across instances (the "offset fence"): a read first samples the master's replication offset
 * (ROLE on the master) and the replica's processed offset (ROLE on the replica), in parallel. Any write that was
 * acknowledged to a client before this read arrived lies at or below the master's offset, so if the replica has
 * processed at least that offset (and its link to the master is up) it holds every such write, and the read runs
 * on the replica. Otherwise — replica lagging, missing, promoted, or not connected — the read runs on the
 * master. The reads that arrive in one turn of the event loop share one fence (ReadFence): the master's ROLE is
 * sampled after the last of them arrived, the replica's before any of their data is read. Cost: one ROLE on the
 * master and one on the replica per turn with reads (O(replicas), no data), plus the fallback reads under write load.
 */
export class RedisGateway {
  private lastMasterAddress: string | undefined;
  private probeTimer: NodeJS.Timeout | undefined;
  private readonly masterLoss: ConnectionLoss;
  private readonly replicaLoss: ConnectionLoss | undefined;
  private readonly writerLoss: Map<Redis, ConnectionLoss>;
  private nextWriter = 0;
  /**
   * WAITs sent and not yet answered, per writer socket: a WAIT holds its connection until replicas acknowledge. By
   * socket, not client: a WAIT lost with its socket settles only at the command timeout, and must not make the
   * client's new connection look busy until then.
   */
  private readonly waitsInFlight = new WeakMap<object, number>();
  /** The write batch collecting scripts during this turn of the event loop, if any (WriteBatch). */
  private openBatch: WriteBatch | undefined;
  /** The read fence shared by the reads arriving during this turn of the event loop, if any (ReadFence). */
  private openFence: ReadFence | undefined;
  /**
   * Whether write scripts take their WAIT along (WriteSession.script). Turned off by the first WAIT that falls
   * short or fails, or a NOREPLICAS refusal — a WAIT that cannot be satisfied holds its connection for the whole
   * REDIS_WAIT_TIMEOUT_MS, and one sent with every script (refusals included) would then stall every write behind
   * it — and on again by the next WAIT, sent on its own after a write, that is acknowledged in full.
   */
  private waitsWithScripts = true;

  constructor(
    readonly master: Redis,
    readonly replica: Redis | undefined,
    private readonly metrics: ApiMetrics,
    private readonly logger: Logger,
    private readonly config: Pick<ApiConfig, 'waitReplicas' | 'waitTimeoutMs'>,
    private readonly watcher?: { close(): void },
    /** connections that carry writes and their WAITs @default [master] */
    private readonly writers: readonly Redis[] = [master],
  ) {
    this.masterLoss = new ConnectionLoss(master);
    this.writerLoss = new Map(writers.map((w) => [w, w === master ? this.masterLoss : new ConnectionLoss(w)]));
    this.replicaLoss = replica ? new ConnectionLoss(replica) : undefined;
    master.on('ready', () => {
      const stream = (master as unknown as { stream?: { remoteAddress?: string; remotePort?: number } }).stream;
      const address = `${stream?.remoteAddress ?? '?'}:${stream?.remotePort ?? '?'}`;
      if (this.lastMasterAddress !== undefined && this.lastMasterAddress !== address) {
        this.metrics.redisFailovers.inc();
        this.logger.warn({ from: this.lastMasterAddress, to: address }, 'redis master changed');
      } else {
        this.logger.info({ master: address }, 'redis master connected');
      }
      this.lastMasterAddress = address;
      this.metrics.masterWritable.set(1);
    });
    master.on('close', () => this.metrics.masterWritable.set(0));
  }

  /** Starts the 1 s writability probe that keeps evergreen_redis_master_writable current. */
  startProbe(): void {
    this.probeTimer = setInterval(() => void this.masterWritable(), 1000);
    this.probeTimer.unref();
  }

  /** True when the master client is connected to a Redis in the master role (ROLE); updates the gauge. */
  async masterWritable(): Promise<boolean> {
    let ok: boolean;
    try {
      ok = this.master.status === 'ready' && parseRole(await this.masterLoss.race(this.master.role()))?.role === 'master';
    } catch {
      ok = false;
    }
    this.metrics.masterWritable.set(ok ? 1 : 0);
    return ok;
  }

  /**
   * A write session on one master connection: its `run` calls and its `confirmDurable` share the connection, which
   * WAIT requires (it waits for that connection's writes).
   *
   * Which connection: the one whose write batch is open in this turn of the event loop, so that the writes of the
   * requests read in one turn share one socket write and one WAIT, or no WAIT with REDIS_WAIT_REPLICAS=0
   * (WriteBatch; none is open while WAITs fall short: RedisGateway.batchFor); else the ready connection with the
   * fewest WAITs in flight (a WAIT holds its connection until replicas acknowledge, and the next batch would queue
   * behind it), round robin among equals.
   */
  writer(): WriteSession {
    const open = this.openBatch;
    if (open !== undefined && open.client.status === 'ready') return this.sessionOn(open.client);
    const ready = this.writers.filter((w) => w.status === 'ready');
    const pool = ready.length > 0 ? ready : this.writers;
    this.nextWriter = (this.nextWriter + 1) % pool.length;
    let client = pool[this.nextWriter]!;
    for (let i = 1; i < pool.length; i += 1) {
      const candidate = pool[(this.nextWriter + i) % pool.length]!;
      if (this.waitsOn(candidate) < this.waitsOn(client)) client = candidate;
    }
    return this.sessionOn(client);
  }

  private sessionOn(client: Redis): WriteSession {
    return new WriteSession(client, this.writerLoss.get(client)!, this);
  }

  private waitsOn(client: Redis): number {
    return this.waitsInFlight.get(client.stream) ?? 0;
  }

  /** Sends WAIT on `client` for the configured replicas, counted in waitsInFlight until it settles. */
  private sendWait(client: Redis): Promise<unknown> {
    const socket = client.stream as object | undefined;
    if (socket !== undefined) this.waitsInFlight.set(socket, (this.waitsInFlight.get(socket) ?? 0) + 1);
    const wait = client.wait(this.config.waitReplicas, this.config.waitTimeoutMs);
    const settled = () => {
      if (socket !== undefined) this.waitsInFlight.set(socket, Math.max(0, (this.waitsInFlight.get(socket) ?? 0) - 1));
    };
    wait.then(settled, settled);
    return wait;
  }

  /**
   * @internal The write batch on `client` that a script sent now joins: the open one, or a new one (a batch open
   * on another connection is sent first). With REDIS_WAIT_REPLICAS=0 a batch carries no WAIT, and still sends the
   * turn's scripts in one socket write. Undefined while WAITs fall short (waitsWithScripts): each script is then
   * sent on its own, at once, on the connection writer() chose — a batch would pin the turn's writes to one
   * connection, where the WAITs each sends after its write (each held until REDIS_WAIT_TIMEOUT_MS) would queue.
   */
  batchFor(client: Redis): WriteBatch | undefined {
    if (this.config.waitReplicas > 0 && !this.waitsWithScripts) return undefined;
    const open = this.openBatch;
    if (open?.client === client) return open;
    open?.send();
    const withWait = this.config.waitReplicas > 0;
    const batch = new WriteBatch(client, withWait ? () => this.watchScriptWait(this.sendWait(client)) : undefined, () => {
      if (this.openBatch === batch) this.openBatch = undefined;
    });
    this.openBatch = batch;
    return batch;
  }

  /** @internal Watches the reply of a WAIT sent along with a script: one that falls short or fails turns that off. */
  watchScriptWait(wait: Promise<unknown>): Promise<unknown> {
    wait.then(
      (acked) => {
        if (!this.isAcked(acked)) this.setWaitsWithScripts(false, 'a WAIT fell short');
      },
      () => this.setWaitsWithScripts(false, 'a WAIT failed'),
    );
    return wait;
  }

  /** @internal A script refused with NOREPLICAS: the master has no replica to wait for. */
  noteScriptError(err: unknown): void {
    if (redisErrorKind(err) === 'noreplicas') this.setWaitsWithScripts(false, 'the master has no replica (NOREPLICAS)');
  }

  private setWaitsWithScripts(on: boolean, why: string): void {
    if (this.waitsWithScripts === on) return;
    this.waitsWithScripts = on;
    if (on) this.logger.info('writes: WAIT travels with each script again (replicas acknowledge)');
    else this.logger.warn({ why }, 'writes: WAIT sent on its own, only after a write, until replicas acknowledge again');
  }

  /**
   * @internal WAIT on `client` for the configured replicas — or the reply of the WAIT `sentWithScript`, already
   * sent along with a script — shortfall → 503. A WAIT of its own acknowledged in full turns waits with scripts
   * back on.
   */
  async waitFor(what: string, client: Redis, loss: ConnectionLoss, sentWithScript?: Promise<unknown>): Promise<void> {
    if (this.config.waitReplicas === 0) return;
    let acked: unknown;
    try {
      acked = await loss.race(sentWithScript ?? this.sendWait(client));
    } catch (err) {
      throw this.unavailable(what, err);
    }
    this.requireAcked(what, acked);
    if (sentWithScript === undefined) this.setWaitsWithScripts(true, 'a WAIT was acknowledged in full');
  }

  private isAcked(acked: unknown): boolean {
    // written as ≥ so that anything but a number (NaN) is a shortfall, never a confirmation
    return Number(acked) >= this.config.waitReplicas;
  }

  /** A WAIT reply (count of replicas that acknowledged) below REDIS_WAIT_REPLICAS → 503, counted. */
  private requireAcked(what: string, acked: unknown): void {
    if (!this.isAcked(acked)) {
      this.metrics.redisErrors.labels('not_durable').inc();
      throw new ServiceUnavailableError(
        `${what}: ${String(acked)} of ${this.config.waitReplicas} replicas acknowledged in ${this.config.waitTimeoutMs} ms; ` +
          'the outcome is not confirmed durable. Retry (for purchases with the same Idempotency-Key).',
      );
    }
  }

  /** HGETALL of one key, behind the read-your-writes fence in one round trip (readBehindFence). */
  hgetall(what: string, key: string): Promise<Record<string, string>> {
    return this.readBehindFence(what, (c) => c.hgetall(key));
  }

  /**
   * Read script `name` (EVALSHA_RO, which replicas run), behind the read-your-writes fence in one round trip
   * (readBehindFence). A node without the script in its cache (restarted, or never asked) answers NOSCRIPT; the
   * script is then sent in full (EVAL_RO, which caches it): one more round trip, once per node.
   */
  readScript(what: string, name: ReadScriptName, keys: readonly string[], args: readonly string[]): Promise<unknown> {
    const script = READ_SCRIPTS[name];
    return this.readBehindFence(what, (c) =>
      c.evalsha_ro(script.sha, keys.length, ...keys, ...args).catch((err: unknown) => {
        if (err instanceof Error && NOSCRIPT.test(err.message)) return c.eval_ro(script.lua, keys.length, ...keys, ...args);
        throw err;
      }),
    );
  }

  /**
   * Runs one read command (`send`, which must send it at once) on a replica that passes the read-your-writes fence,
   * else on the master; Redis failures → 503. The command is queued on the replica right behind the fence's ROLE —
   * processed in order, so the data is at least as new as the offset checked: one round trip when the fence passes;
   * the master answers it itself (a second round trip) only when the replica fails the fence, or fails the read
   * (counted in evergreen_redis_errors_total).
   */
  private async readBehindFence<T>(what: string, send: (client: Redis) => Promise<T>): Promise<T> {
    try {
      const replica = this.replica;
      if (replica !== undefined && replica.status === 'ready') {
        const fence = this.fenceFor(replica);
        const data = this.replicaLoss!.race(send(replica)); // queued behind the fence's ROLE
        let failure: string | undefined;
        data.catch((err: unknown) => (failure = redisErrorKind(err))); // (not read at all when the fence fails)
        if (await fence.passed) {
          const reply = await withinFenceDeadline(data);
          if (reply !== MISSED) {
            this.metrics.redisReads.labels('replica').inc();
            return reply;
          }
          // a replica that passed the fence and then failed the read, or took too long: counted, or a replica that
          // fails every read would move them all to the master with nothing but the reads' split to show it
          this.metrics.redisErrors.labels(failure ?? 'timeout').inc();
        }
      }
      this.metrics.redisReads.labels('master').inc();
      return await this.masterLoss.race(send(this.master));
    } catch (err) {
      throw this.unavailable(what, err);
    }
  }

  /** The read fence of this turn of the event loop: the open one, or a new one. */
  private fenceFor(replica: Redis): ReadFence {
    if (this.openFence !== undefined) return this.openFence;
    const fence = new ReadFence(
      () => this.masterLoss.race(this.master.role()),
      () => this.replicaLoss!.race(replica.role()),
      (masterRole, replicaRole) => {
        const m = this.requireMasterRole(masterRole);
        const r = parseRole(replicaRole);
        if (r?.role === 'slave' && r.state === 'connected' && r.offset >= m.offset) return true;
        if (r?.role === 'master') replica.disconnect(true); // promoted: ask Sentinel for a real replica
        return false;
      },
      replica,
      () => {
        if (this.openFence === fence) this.openFence = undefined;
      },
    );
    this.openFence = fence;
    return fence;
  }

  /** The master's ROLE reply as a master, or: reconnect through Sentinel and fail (we reached a demoted node). */
  private requireMasterRole(reply: unknown): { role: 'master'; offset: number } {
    const m = parseRole(reply);
    if (m?.role !== 'master') {
      this.master.disconnect(true);
      throw new Error('READONLY the master connection reached a replica');
    }
    return m;
  }

  /** @internal */
  unavailable(what: string, err: unknown): Error {
    if (err instanceof ProblemError) return err;
    const kind = redisErrorKind(err);
    // Redis replies errors as "CODE message"; anything else classified 'other' is a bug → 500. So are a script that
    // fails as it runs and a key of another type than the command's: no retry would fare better, "retry shortly"
    // would send clients back for the same failure.
    if (kind === 'other' && !(err instanceof Error && /^[A-Z]{3,}[A-Z_]* /.test(err.message) && !BUG_REPLY.test(err.message))) {
      return err as Error;
    }
    this.metrics.redisErrors.labels(kind).inc();
    this.logger.warn({ what, kind, err: err instanceof Error ? err.message : String(err) }, 'redis unavailable');
    return new ServiceUnavailableError(`${what}: the data store is unavailable (${kind}); retry shortly.`);
  }

  /** Closes both clients (QUIT, bounded), stops the probe. */
  async close(): Promise<void> {
    if (this.probeTimer) clearInterval(this.probeTimer);
    this.watcher?.close();
    const quit = async (c: Redis | undefined) => {
      if (!c) return;
      try {
        await Promise.race([c.quit(), new Promise((r) => setTimeout(r, 1000).unref())]);
      } catch {
        /* already closed */
      }
      c.disconnect();
    };
    await Promise.all([quit(this.master), quit(this.replica), ...this.writers.filter((w) => w !== this.master).map(quit)]);
  }
}

/** NOSCRIPT: the master has not got the script in its cache (a restarted or newly promoted master). */
const NOSCRIPT = /^NOSCRIPT/;

/**
 * Corks `client`'s socket until the end of this turn of the event loop — setImmediate: after the I/O callbacks in
 * which Node read this turn's requests — then runs `atEnd` (which may send a last command) and uncorks: whatever
 * the turn's requests sent on the connection in between leaves in one socket write; `atEnd` is told whether that
 * connection is still up. `result` settles as `atEnd`'s promise does (rejected if `atEnd` throws, so that no one
 * waits on it forever); `end` ends the turn's cork at once (and only once).
 */
function corkForTurn<T>(client: Redis, atEnd: (connected: boolean) => Promise<T>): { readonly result: Promise<T>; readonly end: () => void } {
  // the socket corked now: ioredis may have replaced it by the end of the turn (a reconnect)
  const stream = client.stream as Redis['stream'] | undefined; // not there before the first connect
  stream?.cork();
  let settle!: (value: Promise<T>) => void;
  const result = new Promise<T>((resolve) => {
    settle = resolve;
  });
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    // `connected`: the socket corked is still the client's and open (its 'close' may not have been emitted yet)
    const connected = stream !== undefined && client.stream === stream && !stream.destroyed && client.status === 'ready';
    try {
      settle(atEnd(connected));
    } catch (err) {
      settle(Promise.reject(err instanceof Error ? err : new Error(String(err))));
    } finally {
      stream?.uncork();
    }
  };
  setImmediate(end);
  return { result, end };
}

/**
 * The write scripts sent on one connection during one turn of the event loop, and the one WAIT behind them.
 *
 * The first script of a turn corks the connection (corkForTurn); every script the requests of the same turn send
 * on it joins; at the end of the turn one WAIT is queued behind them all and they leave in one socket write. Redis
 * runs them in order on this connection, so the WAIT covers every script of the batch — and each script's reply
 * comes as soon as it has run, so a refusal is answered without waiting for the WAIT. Under load this saves a
 * WAIT, a socket write and a reply to read per write beyond the first of a turn; on the master, each WAIT blocks
 * its client and asks every replica for an acknowledgement.
 *
 * Without `queueWait` (REDIS_WAIT_REPLICAS=0: nothing to wait for) the scripts of the turn still leave in one socket
 * write: sent one by one they cost a write each, and made REDIS_WAIT_REPLICAS=0 slower than 1 (docs/performance.md).
 */
export class WriteBatch {
  /** The reply of the batch's WAIT (pending until the batch is sent); undefined for a batch without one. */
  readonly wait: Promise<unknown> | undefined;
  /** Queues the WAIT (if any) behind the batch's scripts and lets them all go (once; else at the end of the turn). */
  readonly send: () => void;

  constructor(
    readonly client: Redis,
    queueWait: (() => Promise<unknown>) | undefined,
    onSent: () => void,
  ) {
    const turn = corkForTurn(client, (connected) => {
      onSent();
      if (queueWait === undefined) return Promise.resolve(undefined);
      // the connection was lost during the turn: its scripts failed with it (503), and a WAIT sent now would only
      // fail too and be taken for replicas that cannot acknowledge (RedisGateway.waitsWithScripts)
      if (!connected) return Promise.reject(new Error('Connection is closed.'));
      return queueWait();
    });
    this.send = turn.end;
    if (queueWait === undefined) return;
    this.wait = turn.result;
    // a batch whose every script failed or was refused (nothing to confirm) has no one reading its WAIT
    this.wait.catch(() => undefined);
  }
}

/**
 * The read-your-writes fence (RedisGateway) of the reads that arrive in one turn of the event loop, shared by them.
 * The replica's ROLE goes first on the replica's connection, corked for the turn, and each HGETALL of the turn
 * queues behind it (processed in order: the data is at least as new as the offset ROLE reports); reads that need
 * more than one command (read) send them once the fence has passed. At the end of the turn, after every read of
 * the turn arrived, the master's ROLE is sent — so its offset covers every write acknowledged to a client before
 * any of them arrived — and the replica's commands leave in one socket write. One ROLE on each side and one
 * socket write to the replica per turn, instead of per read.
 */
export class ReadFence {
  /**
   * Whether the replica passed: connected, and holding the master's offset. Rejects when the master cannot be asked
   * (or is not a master); a slow or failing replica only fails the fence (REPLICA_FENCE_DEADLINE_MS, counted from
   * the end of the turn, when its ROLE leaves).
   */
  readonly passed: Promise<boolean>;

  constructor(
    askMaster: () => Promise<unknown>,
    askReplica: () => Promise<unknown>,
    judge: (masterRole: unknown, replicaRole: unknown) => boolean,
    replica: Redis,
    onClose: () => void,
  ) {
    // (the callback runs at the end of the turn, after replicaRole below is sent)
    const turn = corkForTurn(replica, () => {
      onClose();
      return Promise.all([askMaster(), withinFenceDeadline(replicaRole)]);
    });
    const replicaRole = askReplica(); // first on the corked connection: the reads of the turn queue behind it
    replicaRole.catch(() => undefined); // read (through withinFenceDeadline) at the end of the turn
    this.passed = turn.result.then(([m, r]) => judge(m, r));
    this.passed.catch(() => undefined); // each read awaits it; this only keeps an unread rejection quiet
  }
}

/** One master connection for a write and its WAIT (see RedisGateway.writer). Used by one request at a time. */
export class WriteSession {
  /** The WAIT sent along with this session's last script, until `confirmDurable` reads it or another command runs. */
  private scriptWait: Promise<unknown> | undefined;

  constructor(
    private readonly client: Redis,
    private readonly loss: ConnectionLoss,
    private readonly gateway: RedisGateway,
  ) {}

  /** Runs `fn` on this session's connection; Redis failures → 503. */
  async run<T>(what: string, fn: (master: Redis) => Promise<T>): Promise<T> {
    this.scriptWait = undefined; // `fn` may write after that WAIT, which would then cover less than asked
    try {
      return await this.loss.race(fn(this.client));
    } catch (err) {
      throw this.gateway.unavailable(what, err);
    }
  }

  /**
   * Runs write script `name` (EVALSHA) with the WAIT that `confirmDurable` needs behind it, in the same socket
   * write, shared with the other scripts sent on this connection in this turn of the event loop (WriteBatch): one
   * write and one round trip fewer than script, reply, WAIT. Redis runs them in order on this connection, so the
   * WAIT covers the script's write (and any earlier write of the connection). Resolves with the script's reply as
   * soon as it is there: a refusal that wrote nothing is answered without waiting for the WAIT, whose reply
   * `confirmDurable` reads.
   *
   * While WAITs fall short (no replica, or a paused one) the script goes alone and `confirmDurable` sends the WAIT
   * only after a write, as a WAIT that cannot be satisfied holds the connection for REDIS_WAIT_TIMEOUT_MS
   * (RedisGateway.waitsWithScripts). With REDIS_WAIT_REPLICAS=0 the turn's scripts share a socket write, no WAIT.
   * A master without the script (NOSCRIPT: restarted, newly promoted) runs nothing; the script is then sent in full
   * (EVAL, which caches it) and `confirmDurable` sends its own WAIT.
   */
  async script(what: string, name: ScriptName, args: readonly string[]): Promise<unknown> {
    const script = WRITE_SCRIPTS[name];
    this.scriptWait = undefined;
    const batch = this.gateway.batchFor(this.client);
    const reply = this.client.evalsha(script.sha, script.numberOfKeys, ...args);
    try {
      const result = await this.loss.race(reply);
      this.scriptWait = batch?.wait;
      return result;
    } catch (err) {
      if (err instanceof Error && NOSCRIPT.test(err.message)) {
        return this.run(what, (m) => m.eval(script.lua, script.numberOfKeys, ...args));
      }
      this.gateway.noteScriptError(err);
      throw this.gateway.unavailable(what, err);
    }
  }

  /**
   * Makes this session's writes durable: WAIT for REDIS_WAIT_REPLICAS replicas to acknowledge them (the WAIT sent
   * along with the last `script`, if nothing ran since, else a new one).
   * Fewer acknowledgements in time → 503 (the write is applied on the master but not confirmed on a replica).
   */
  confirmDurable(what: string): Promise<void> {
    const wait = this.scriptWait;
    this.scriptWait = undefined;
    return this.gateway.waitFor(what, this.client, this.loss, wait);
  }
}
