/**
 * The API's Redis edge (RedisGateway) in-process, against a real master with one replica.
 * Writes (RedisGateway.writer → WriteSession): every write script travels with its WAIT in one socket write, the
 * writes of one event-loop turn share that write and one WAIT, and it falls back to WAIT-after-write while WAITs
 * fall short; a refusal does not wait; a master without the script still runs it.
 * Reads: the reads of one turn share one read-your-writes fence (ReadFence), and a later turn gets its own; a page of a
 * list is one script (READ_PAGE) behind it.
 */
import { once } from 'node:events';
import Redis from 'ioredis';
import pino from 'pino';
import { ProblemError, ServiceUnavailableError } from '../../../api/src/errors';
import { ApiMetrics } from '../../../api/src/ops/metrics';
import { ProductStore } from '../../../api/src/products/store';
import type { Purchase } from '../../../api/src/purchases/schema';
import { PurchaseStore } from '../../../api/src/purchases/store';
import { RedisGateway } from '../../../api/src/redis/gateway';
import { UserStore } from '../../../api/src/users/store';
import { startLoopbackTopology, type LoopbackTopology } from '../../support/loopback';
import { waitFor } from '../../support/wait';
import { adminRedis } from './client';

jest.setTimeout(60_000);

let topology: LoopbackTopology;
let admin: Redis;
let replicaAdmin: Redis;
let client: Redis;
let replica: Redis;
let replicaPort: number;
const opened: Redis[] = [];

/** A connection as the API's ACL user, to the master or the replica (direct, no Sentinel). */
async function apiConnection(node: { host: string; port: number }): Promise<Redis> {
  const c = new Redis({
    host: node.host, port: node.port, username: 'api', password: topology.secrets.redisPasswords.api,
    lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 2000,
  });
  await c.connect();
  c.setMaxListeners(32); // every test builds a gateway over the same connections, each listening for 'close'
  opened.push(c);
  return c;
}

/** A gateway writing on `master` (or on `more.writers`), reading from `more.replica` if given, logging nothing. */
/**
 * How long a WAIT that a replica can satisfy may take here: long, so that a replica starved of CPU on a loaded
 * machine still acknowledges in time (a WAIT that falls short switches the gateway's mode and changes every count
 * below). The tests of WAITs that cannot be satisfied pass short timeouts of their own.
 */
const ACK_WAIT_MS = 10_000;

function gatewayOver(
  master: Redis,
  waitReplicas: number,
  waitTimeoutMs = ACK_WAIT_MS,
  more: { readonly replica?: Redis; readonly metrics?: ApiMetrics; readonly writers?: readonly Redis[] } = {},
): RedisGateway {
  const metrics = more.metrics ?? new ApiMetrics(false);
  return new RedisGateway(master, more.replica, metrics, pino({ level: 'silent' }), { waitReplicas, waitTimeoutMs }, undefined, more.writers);
}

/** Destroys `c`'s socket as a network failure would; resolves when ioredis has reconnected. */
function dropConnection(c: Redis): Promise<unknown> {
  const reconnected = once(c, 'ready');
  (c.stream as unknown as { destroy(): void }).destroy();
  return reconnected;
}

/**
 * Counts the socket writes `c` makes from now until `stop()`: calls of the socket's `_write` (one chunk) and `_writev`
 * (the chunks of a cork, or of writes queued behind a write in progress), each one write to the kernel.
 */
function watchWrites(c: Redis): { count(): number; stop(): void } {
  type Writer = (...args: unknown[]) => void;
  const stream = (c as unknown as { stream: { _write: Writer; _writev: Writer } }).stream;
  const original = { _write: stream._write, _writev: stream._writev };
  let writes = 0;
  for (const name of ['_write', '_writev'] as const) {
    stream[name] = function (this: unknown, ...args: unknown[]) {
      writes += 1;
      return original[name].apply(this, args);
    };
  }
  return { count: () => writes, stop: () => Object.assign(stream, original) };
}

/** Socket writes `c` makes while `work` runs. */
async function countWrites<T>(c: Redis, work: () => Promise<T>): Promise<{ value: T; writes: number }> {
  const watch = watchWrites(c);
  try {
    return { value: await work(), writes: watch.count() };
  } finally {
    watch.stop();
  }
}

/** Resolves in the next turn of the event loop, after the write batches of this one have been sent. */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

async function blockedClients(): Promise<number> {
  return Number(/blocked_clients:(\d+)/.exec(await admin.info('clients'))?.[1]);
}

/** Calls of command `name` so far on the master (or on `on`). */
async function commandCalls(name: string, on: Redis = admin): Promise<number> {
  const m = new RegExp(`cmdstat_${name}:calls=(\\d+)`).exec(await on.info('commandstats'));
  return Number(m?.[1] ?? 0);
}

beforeAll(async () => {
  topology = await startLoopbackTopology({ gateway: false, apiInstances: 1, redisReplicas: 1 });
  // This file drives its own gateways; the topology's API instance (at least one is started) would send its 1 s
  // writability probe (ROLE) to the master, which the command counts below (commandstats) would take for ours.
  await topology.stopApi(0);
  admin = await adminRedis(topology);
  const master = await topology.currentMaster();
  client = await apiConnection(master);
  const replicaNode = topology.redisNodes.find((n) => n.port !== master.port)!;
  replicaPort = replicaNode.port;
  replica = await apiConnection(replicaNode);
  replicaAdmin = new Redis({ host: replicaNode.host, port: replicaNode.port, username: 'admin', password: topology.secrets.redisPasswords.admin, lazyConnect: true, maxRetriesPerRequest: 1 });
  await replicaAdmin.connect();
  opened.push(replicaAdmin);
});

afterAll(async () => {
  await topology?.stop();
});

// inside a describe: runs before the file-level afterAll hooks, among them the process cleanup that stops Redis
describe('RedisGateway', () => {
  afterAll(async () => {
    await Promise.all([...opened, ...(admin ? [admin] : [])].map((c) => c.quit().catch(() => undefined)));
  });

  describe('WriteSession', () => {
    it('one socket write per write: user create, product create and update, purchase, each script with its WAIT and its answer', async () => {
      const gateway = gatewayOver(client, 1);
      const users = new UserStore(gateway);
      const products = new ProductStore(gateway);
      const purchases = new PurchaseStore(gateway);
      const oneOfEach = async () => {
        const user = await countWrites(client, () => users.create({ name: 'Ada', email: `ada.${Date.now()}.${Math.random()}@example.com` }));
        const product = await countWrites(client, () => products.create({ name: 'Oak', description: 'young', priceCents: 100, stock: 3 }));
        const bought = await countWrites(client, () => purchases.create({ userId: user.value.id, productId: product.value.id, quantity: 2 }, undefined));
        const renamed = await countWrites(client, () => products.update(product.value.id, { name: 'Old oak' }));
        return { user, product, bought, renamed };
      };
      await oneOfEach(); // the fresh master learns each script (NOSCRIPT → EVAL, next test)
      const waitsBefore = await commandCalls('wait');
      const { user, product, bought, renamed } = await oneOfEach();
      expect([user.writes, product.writes, bought.writes]).toEqual([1, 1, 1]);
      expect(bought.value.kind).toBe('created');
      // an update answers with the record as its script left it (the WAIT covers it): one write, no read after it
      expect(renamed.value.name).toBe('Old oak');
      expect(renamed.writes).toBe(1);
      expect((await commandCalls('wait')) - waitsBefore).toBe(4);

      // confirmed durable: the replica holds each write when the call returns
      expect(await replica.hget(`product:${product.value.id}`, 'stock')).toBe('1');
      expect(await replica.hget(`product:${product.value.id}`, 'name')).toBe('Old oak');
      expect(await replica.exists(`purchase:${(bought.value as { purchase: { id: string } }).purchase.id}`)).toBe(1);
    });

    it('writes started in one turn of the event loop share one socket write and one WAIT, which confirms them all', async () => {
      const gateway = gatewayOver(client, 1);
      const users = new UserStore(gateway);
      const purchases = new PurchaseStore(gateway);
      const products = new ProductStore(gateway);
      const product = await products.create({ name: 'Birch', priceCents: 250, stock: 100 });
      const buyers = await Promise.all(Array.from({ length: 8 }, (_, i) => users.create({ name: `B${i}`, email: `b${i}.${Date.now()}.${Math.random()}@example.com` })));
      const waitsBefore = await commandCalls('wait');
      const { value, writes } = await countWrites(client, () =>
        Promise.all([
          ...buyers.map((b) => purchases.create({ userId: b.id, productId: product.id, quantity: 3 }, undefined)),
          // a refusal in the same batch is answered on its script's reply, like any other
          purchases.create({ userId: buyers[0]!.id, productId: product.id, quantity: 1000 }, undefined),
        ]),
      );
      expect(writes).toBe(1);
      expect((await commandCalls('wait')) - waitsBefore).toBe(1);
      expect(value.map((r) => r.kind)).toEqual([...buyers.map(() => 'created'), 'problem']);
      // confirmed durable: when the calls return the replica holds every purchase of the batch
      const ids = value.flatMap((r) => (r.kind === 'created' ? [r.purchase.id] : []));
      expect(await Promise.all(ids.map((id) => replica.exists(`purchase:${id}`)))).toEqual(ids.map(() => 1));
      expect(await replica.hget(`product:${product.id}`, 'stock')).toBe(String(100 - 8 * 3));
    });

    it('with REDIS_WAIT_REPLICAS=0 the writes of one turn still share one socket write, and no WAIT is sent', async () => {
      const gateway = gatewayOver(client, 0);
      const users = new UserStore(gateway);
      const waitsBefore = await commandCalls('wait');
      const { value, writes } = await countWrites(client, () =>
        Promise.all(Array.from({ length: 6 }, (_, i) => users.create({ name: `Z${i}`, email: `z${i}.${Date.now()}.${Math.random()}@example.com` }))),
      );
      expect(writes).toBe(1);
      expect(await commandCalls('wait')).toBe(waitsBefore);
      expect(await Promise.all(value.map((u) => client.exists(`user:${u.id}`)))).toEqual(value.map(() => 1));
    });

    it("the next turn's batch goes to a connection without a WAIT in flight, not behind the blocked one", async () => {
      const second = await apiConnection(await topology.currentMaster());
      const writers = [client, second];
      const gateway = gatewayOver(client, 1, 5000, { writers });
      const users = new UserStore(gateway);
      const create = (i: number) => users.create({ name: `W${i}`, email: `w${i}.${Date.now()}.${Math.random()}@example.com` });
      const replicaProcess = topology.redisProcess(replicaPort);
      const watches = writers.map(watchWrites);
      const pending: Promise<unknown>[] = [];
      replicaProcess.signal('SIGSTOP');
      try {
        for (let i = 0; i < 3; i += 1) pending.push(create(i));
        await nextTurn();
        const afterFirst = watches.map((w) => w.count());
        expect([...afterFirst].sort()).toEqual([0, 1]); // one connection, one write
        for (let i = 3; i < 6; i += 1) pending.push(create(i));
        await nextTurn();
        expect(watches.map((w) => w.count())).toEqual([1, 1]); // the other connection
        // both WAITs are held by Redis (the replica is stopped); neither batch waits behind the other
        await waitFor(async () => (await blockedClients()) === 2 || undefined, { what: 'both WAITs to block', timeoutMs: 5_000, intervalMs: 50 });
      } finally {
        for (const w of watches) w.stop();
        replicaProcess.signal('SIGCONT');
      }
      const created = (await Promise.all(pending)) as { id: string }[];
      expect(await Promise.all(created.map((u) => replica.exists(`user:${u.id}`)))).toEqual(created.map(() => 1));
    });

    it('a batch whose connection is lost during its turn: every write of it answers 503 (connection), and scripts keep their WAIT', async () => {
      const lost = await apiConnection(await topology.currentMaster());
      const gateway = gatewayOver(lost, 1);
      const users = new UserStore(gateway);
      const email = () => `lost.${Date.now()}.${Math.random()}@example.com`;
      const writes = [0, 1, 2].map((i) => users.create({ name: `L${i}`, email: email() }).then(() => 'created', (e: unknown) => e));
      const reconnected = dropConnection(lost);
      for (const outcome of await Promise.all(writes)) {
        expect(outcome).toBeInstanceOf(ServiceUnavailableError);
        expect((outcome as Error).message).toMatch(/unavailable \(connection\)/); // at once, not at the command timeout
      }
      await reconnected;
      // the lost WAIT was not taken for replicas that cannot acknowledge: WAIT still travels with the script
      expect((await countWrites(lost, () => users.create({ name: 'L', email: email() }))).writes).toBe(1);
    });

    it('a refusal that wrote nothing is answered on the script reply, while its WAIT is still held by Redis', async () => {
      // two replicas asked for, one exists: this WAIT can only time out
      const gateway = gatewayOver(client, 2, 1500);
      const purchases = new PurchaseStore(gateway);
      const refused = await purchases.create({ userId: 'usr_00000000000000000000000000', productId: 'prd_00000000000000000000000000', quantity: 1 }, undefined);
      expect(refused.kind).toBe('problem');
      expect(await blockedClients()).toBe(1);
      await waitFor(async () => (await blockedClients()) === 0 || undefined, { what: 'the WAIT to time out', timeoutMs: 5_000, intervalMs: 100 });
    });

    it('while WAITs fall short, scripts go without a WAIT and one follows only a write; full acknowledgement switches back', async () => {
      const gateway = gatewayOver(client, 1, 300);
      const users = new UserStore(gateway);
      const purchases = new PurchaseStore(gateway);
      const email = () => `eve.${Date.now()}.${Math.random()}@example.com`;
      const refusal = () => purchases.create({ userId: 'usr_00000000000000000000000000', productId: 'prd_00000000000000000000000000', quantity: 1 }, undefined);
      const replicaProcess = topology.redisProcess(replicaPort);
      replicaProcess.signal('SIGSTOP');
      try {
        // the first short WAIT still travels with its script, and switches that off
        const first = await countWrites(client, () => users.create({ name: 'Eve', email: email() }).catch((e: unknown) => e));
        expect(first.value).toBeInstanceOf(ServiceUnavailableError);
        expect(first.writes).toBe(1);
        const second = await countWrites(client, () => users.create({ name: 'Eve', email: email() }).catch((e: unknown) => e));
        expect(second.value).toBeInstanceOf(ServiceUnavailableError);
        expect(second.writes).toBe(2); // the script, then its WAIT
        const waitsBefore = await commandCalls('wait');
        expect((await refusal()).kind).toBe('problem');
        expect(await commandCalls('wait')).toBe(waitsBefore); // nothing written, nothing waited for
      } finally {
        replicaProcess.signal('SIGCONT');
      }
      // acknowledged in full (after the replica has caught up): back to one write per write
      const back = await waitFor(
        async () => {
          const attempt = await countWrites(client, () => users.create({ name: 'Eve', email: email() }).then(() => true, () => false));
          return attempt.value ? attempt : undefined;
        },
        { what: 'a write confirmed by the resumed replica', timeoutMs: 10_000, intervalMs: 100 },
      );
      expect(back.writes).toBe(2);
      expect((await countWrites(client, () => users.create({ name: 'Eve', email: email() }))).writes).toBe(1);
    });

    it('while WAITs fall short, the writes of one turn spread over the write connections, not one behind the other', async () => {
      const second = await apiConnection(await topology.currentMaster());
      const writers = [client, second];
      const gateway = gatewayOver(client, 1, 300, { writers });
      const users = new UserStore(gateway);
      const create = (i: number) => users.create({ name: `S${i}`, email: `s${i}.${Date.now()}.${Math.random()}@example.com` }).catch((e: unknown) => e);
      const replicaProcess = topology.redisProcess(replicaPort);
      replicaProcess.signal('SIGSTOP');
      try {
        expect(await create(0)).toBeInstanceOf(ServiceUnavailableError); // a short WAIT: WAITs go after writes now
        const watches = writers.map(watchWrites);
        const turn = [create(1), create(2)];
        await nextTurn();
        // one script on each connection (each WAIT, held for the whole timeout, blocks only its own)
        expect(watches.map((w) => w.count())).toEqual([1, 1]);
        for (const w of watches) w.stop();
        for (const outcome of await Promise.all(turn)) expect((outcome as Error).message).toMatch(/not confirmed durable/);
      } finally {
        replicaProcess.signal('SIGCONT');
      }
    });

    it("a script's run-time error or a key of the wrong type is a bug (500), not a 503 that asks the client to retry", async () => {
      const session = gatewayOver(client, 1).writer();
      const key = `wrongtype:${Date.now()}`;
      await admin.set(key, 'a string');
      for (const failing of [
        session.run('broken script', (m) => m.eval('return tonumber(ARGV[1]) + 1', 0, 'not a number')),
        session.run('wrong type', (m) => m.hgetall(key)),
      ]) {
        const error = await failing.catch((e: unknown) => e);
        expect(error).toBeInstanceOf(Error);
        expect(error).not.toBeInstanceOf(ProblemError);
        expect((error as Error).message).toMatch(/^(ERR user_script:1: .*arithmetic|WRONGTYPE )/);
      }
      // an error of availability stays a 503
      const unavailable = await session.run('no replicas', () => Promise.reject(new Error('NOREPLICAS Not enough good replicas to write.'))).catch((e: unknown) => e);
      expect(unavailable).toBeInstanceOf(ServiceUnavailableError);
    });

    it('a write script on a node that is no master is refused as a whole, also where it would write nothing (a 404)', async () => {
      // a write connection still on a master that was just demoted: the replica connection stands in for it
      const demoted = gatewayOver(replica, 0);
      const refusal = await new ProductStore(demoted).update('prd_00000000000000000000000000', { name: 'x' }).catch((e: unknown) => e);
      expect(refusal).toBeInstanceOf(ServiceUnavailableError);
      expect((refusal as Error).message).toMatch(/READONLY|readonly/);
      const purchase = await new PurchaseStore(demoted)
        .create({ userId: 'usr_00000000000000000000000000', productId: 'prd_00000000000000000000000000', quantity: 1 }, undefined)
        .catch((e: unknown) => e);
      expect(purchase).toBeInstanceOf(ServiceUnavailableError);
    });

    it('a command run between the script and confirmDurable makes confirmDurable send a fresh WAIT', async () => {
      const gateway = gatewayOver(client, 1);
      const session = gateway.writer();
      const waitsBefore = await commandCalls('wait');
      const id = `prd_ws${Date.now()}`;
      await session.script('create product', 'createProduct', [`product:${id}`, 'products', id, new Date().toISOString(), 'name', 'Yew', 'priceCents', '1', 'stock', '1']);
      await session.run('touch', (m) => m.hset(`product:${id}`, 'stock', '2'));
      await session.confirmDurable('create product');
      expect((await commandCalls('wait')) - waitsBefore).toBe(2);
      expect(await replica.hget(`product:${id}`, 'stock')).toBe('2');
    });

    // last: it empties the script cache
    it('NOSCRIPT (a master with an empty script cache): the script is sent in full and confirmDurable sends its own WAIT', async () => {
      const gateway = gatewayOver(client, 1);
      const products = new ProductStore(gateway);
      expect(await admin.call('SCRIPT', 'FLUSH')).toBe('OK');
      const waitsBefore = await commandCalls('wait');
      const evalsBefore = await commandCalls('eval');
      const created = await countWrites(client, () => products.create({ name: 'Ash', priceCents: 5, stock: 1 }));
      // EVALSHA + WAIT (NOSCRIPT, and a WAIT that covers nothing new), EVAL, then WAIT
      expect(created.writes).toBe(3);
      expect((await commandCalls('eval')) - evalsBefore).toBe(1);
      expect((await commandCalls('wait')) - waitsBefore).toBe(2);
      expect(await replica.hget(`product:${created.value.id}`, 'name')).toBe('Ash');
      // the script is cached again: back to one write
      expect((await countWrites(client, () => products.create({ name: 'Elm', priceCents: 5, stock: 1 }))).writes).toBe(1);
    });
  });

  describe('ReadFence', () => {
    it('the reads of one turn share one ROLE on the master and one on the replica, and leave in one write to the replica', async () => {
      const metrics = new ApiMetrics(false);
      const gateway = gatewayOver(client, 1, ACK_WAIT_MS, { replica, metrics });
      const products = new ProductStore(gateway);
      const created = await Promise.all(Array.from({ length: 6 }, (_, i) => products.create({ name: `Pine ${i}`, priceCents: 10 + i, stock: i })));
      const masterRoles = await commandCalls('role');
      const replicaRoles = await commandCalls('role', replicaAdmin);
      const { value, writes } = await countWrites(replica, () => Promise.all(created.map((p) => products.get(p.id))));
      expect(value).toEqual(created);
      expect(writes).toBe(1); // ROLE and the six HGETALLs
      expect((await commandCalls('role')) - masterRoles).toBe(1);
      expect((await commandCalls('role', replicaAdmin)) - replicaRoles).toBe(1);
      expect(await metrics.redisReads.get()).toMatchObject({ values: [{ labels: { target: 'replica' }, value: 6 }] });

      // a list (read) and a get in one turn share the fence too; the next turn's reads get a fence of their own,
      // whose master offset is sampled after they arrived
      const [page, one] = await Promise.all([products.list({ limit: 10 }), products.get(created[0]!.id)]);
      expect(page.items.length).toBeGreaterThanOrEqual(6);
      expect(one).toEqual(created[0]);
      await nextTurn();
      await products.get(created[1]!.id);
      expect((await commandCalls('role')) - masterRoles).toBe(3);
    });

    it('a fence whose master connection is lost during its turn answers every read of the turn 503 (connection)', async () => {
      const master = await apiConnection(await topology.currentMaster());
      const gateway = gatewayOver(master, 1, ACK_WAIT_MS, { replica });
      const products = new ProductStore(gateway);
      const product = await products.create({ name: 'Rowan', priceCents: 3, stock: 3 });
      const reads = [products.get(product.id), products.get(product.id), products.list({ limit: 5 })].map((r) => r.then(() => 'read', (e: unknown) => e));
      const reconnected = dropConnection(master);
      for (const outcome of await Promise.all(reads)) {
        expect(outcome).toBeInstanceOf(ServiceUnavailableError);
        expect((outcome as Error).message).toMatch(/unavailable \(connection\)/);
      }
      await reconnected;
      expect(await products.get(product.id)).toEqual(product);
    });

    it('a page of a list is one round trip: the READ_PAGE script leaves with the ROLE; a replica without it gets it in full, once', async () => {
      const metrics = new ApiMetrics(false);
      const products = new ProductStore(gatewayOver(client, 1, ACK_WAIT_MS, { replica, metrics }));
      await Promise.all(Array.from({ length: 3 }, (_, i) => products.create({ name: `Yew ${i}`, priceCents: i, stock: i })));
      expect(await replicaAdmin.call('SCRIPT', 'FLUSH')).toBe('OK');
      const evalRoBefore = await commandCalls('eval_ro', replicaAdmin);
      const first = await countWrites(replica, () => products.list({ limit: 2 }));
      expect(first.writes).toBe(2); // ROLE + EVALSHA_RO (NOSCRIPT), then EVAL_RO
      expect((await commandCalls('eval_ro', replicaAdmin)) - evalRoBefore).toBe(1);
      expect(first.value.items).toHaveLength(2);
      await nextTurn();
      const again = await countWrites(replica, () => products.list({ limit: 2 }));
      expect(again.writes).toBe(1); // cached: ROLE and EVALSHA_RO in one write, nothing after
      expect(again.value).toEqual(first.value);
      expect((await commandCalls('eval_ro', replicaAdmin)) - evalRoBefore).toBe(1);
      expect(await metrics.redisReads.get()).toMatchObject({ values: [{ labels: { target: 'replica' }, value: 2 }] });
    });

    it('a replica that passes the fence but fails the read: the master answers, and the replica error is counted', async () => {
      const metrics = new ApiMetrics(false);
      const products = new ProductStore(gatewayOver(client, 1, ACK_WAIT_MS, { replica, metrics }));
      await products.create({ name: 'Hazel', priceCents: 1, stock: 1 });
      const expected = await products.list({ limit: 5 });
      // ACLs are per node: the replica alone refuses the read script (as a replica of an older Redis would)
      expect(await replicaAdmin.call('ACL', 'SETUSER', 'api', '-evalsha_ro', '-eval_ro')).toBe('OK');
      try {
        await nextTurn();
        expect(await products.list({ limit: 5 })).toEqual(expected);
      } finally {
        await replicaAdmin.call('ACL', 'SETUSER', 'api', '+evalsha_ro', '+eval_ro');
      }
      expect(await metrics.redisErrors.get()).toMatchObject({ values: [{ labels: { kind: 'other' }, value: 1 }] });
      expect((await metrics.redisReads.get()).values).toEqual(
        expect.arrayContaining([expect.objectContaining({ labels: { target: 'master' }, value: 1 })]),
      );
    });

    it("a user's purchases: newest first, a vanished purchase skipped with the cursor moving past it, 404 only when user and history are both gone", async () => {
      const gateway = gatewayOver(client, 1, ACK_WAIT_MS, { replica });
      const users = new UserStore(gateway);
      const product = await new ProductStore(gateway).create({ name: 'Alder', priceCents: 7, stock: 10 });
      const user = await users.create({ name: 'Bo', email: `bo.${Date.now()}@example.com` });
      const purchases = new PurchaseStore(gateway);
      const bought: Purchase[] = [];
      for (let i = 0; i < 4; i++) {
        const result = await purchases.create({ userId: user.id, productId: product.id, quantity: 1 }, undefined);
        if (result.kind === 'created') bought.push(result.purchase);
      }
      const [newest, gone, older, oldest] = bought.sort((x, y) => (x.id < y.id ? 1 : -1)); // ids order by time
      await admin.del(`purchase:${gone!.id}`); // its id stays in the index
      const first = await users.purchases(user.id, { limit: 2 });
      expect(first.items).toEqual([newest]);
      const second = await users.purchases(user.id, { limit: 2, cursor: first.nextCursor! });
      expect(second).toEqual({ items: [older, oldest], nextCursor: null });

      await users.delete(user.id);
      expect((await users.purchases(user.id, { limit: 10 })).items).toEqual([newest, older, oldest]);
      await admin.del(`user:${user.id}:purchases`);
      await expect(users.purchases(user.id, { limit: 10 })).rejects.toThrow(`User ${user.id} does not exist.`);
    });

    it('a read in the turn after a write was acknowledged sees it, from the master while the replica lags', async () => {
      const metrics = new ApiMetrics(false);
      // the writer does not wait for the replica, so its acknowledged write may be missing there
      const writer = new ProductStore(gatewayOver(client, 0));
      const reader = new ProductStore(gatewayOver(client, 1, ACK_WAIT_MS, { replica, metrics }));
      const product = await writer.create({ name: 'Larch', priceCents: 1, stock: 1 });
      const replicaProcess = topology.redisProcess(replicaPort);
      replicaProcess.signal('SIGSTOP');
      try {
        await writer.update(product.id, { stock: 7 });
        expect((await reader.get(product.id)).stock).toBe(7);
        expect(await metrics.redisReads.get()).toMatchObject({ values: [{ labels: { target: 'master' }, value: 1 }] });
      } finally {
        replicaProcess.signal('SIGCONT');
      }
    });
  });
});
