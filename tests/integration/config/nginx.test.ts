/**
 * The rendered nginx.conf, checked by nginx itself: `nginx -t` on the files of every target, then a
 * real nginx (the loopback rendering: only addresses, ports and paths differ from the deployed file)
 * in front of two stand-in API instances — small HTTP servers that record what reaches them, so the
 * test can see which instance got a request and whether it was retried.
 */
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { connect, createServer as createNetServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineStack, renderNginxConf, type StackOverrides, type StackSpec, type StackTarget } from '../../../config';
import { freePort, registerTemporaryDir, startProcess, type ManagedProcess } from '../../support/processes';
import { waitFor } from '../../support/wait';

jest.setTimeout(60_000);

const NGINX = existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : 'nginx';

interface Seen {
  readonly method: string;
  readonly url: string;
  readonly requestId: string | undefined;
  readonly forwardedFor: string | undefined;
  readonly bodyBytes: number;
}

/** A stand-in API instance: answers 200 JSON naming itself, or hangs up on every request. */
class StandIn {
  readonly seen: Seen[] = [];
  hangUp = false;
  /** Milliseconds each answer is held back: an instance that is slow for a while. */
  delayMs = 0;
  private server: Server | undefined;
  constructor(
    readonly name: string,
    readonly port: number,
  ) {}

  async start(): Promise<void> {
    this.server = createServer((req: IncomingMessage, res) => {
      let bodyBytes = 0;
      req.on('data', (chunk: Buffer) => (bodyBytes += chunk.length));
      req.on('end', () => {
        this.seen.push({
          method: req.method ?? '',
          url: req.url ?? '',
          requestId: req.headers['x-request-id'] as string,
          forwardedFor: req.headers['x-forwarded-for'] as string | undefined,
          bodyBytes,
        });
        if (this.hangUp) {
          req.socket.destroy();
          return;
        }
        const answer = () => {
          // The API sets X-Request-Id too; nginx must not send the client two of them.
          res.writeHead(200, { 'content-type': 'application/json', 'x-request-id': 'set-by-the-instance' });
          res.end(JSON.stringify({ instance: this.name }));
        };
        if (this.delayMs > 0) setTimeout(answer, this.delayMs);
        else answer();
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(this.port, '127.0.0.1', resolve));
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  saw(requestId: string): boolean {
    return this.seen.some((s) => s.requestId === requestId);
  }
}

async function loopbackSpec(workDir: string, stack: StackOverrides = {}): Promise<StackSpec> {
  const ports: Record<string, number> = {};
  for (const name of ['gateway', 'gateway-status', 'api-0', 'api-1']) ports[name] = await freePort();
  return defineStack({ ...stack, ports, loopback: { workDir } }, 'loopback');
}

/** Writes the rendered config (or `content`) under the spec's run directory and starts nginx on it. */
async function startNginx(spec: StackSpec, asUser?: { uid: number; gid: number }, content = renderNginxConf(spec)): Promise<ManagedProcess> {
  const g = spec.gateway;
  mkdirSync(g.tempDir, { recursive: true });
  const conf = join(g.runDir, 'nginx.conf');
  writeFileSync(conf, content);
  const args = ['-p', g.runDir, '-c', conf, '-e', 'stderr', '-g', 'daemon off;'];
  let command = NGINX;
  let fullArgs = args;
  const logFile = join(g.runDir, 'nginx.log');
  if (asUser) {
    // nginx reopens /dev/stdout (its access log), i.e. the log file: it must be the user's own.
    writeFileSync(logFile, '');
    for (const path of [g.runDir, g.tempDir, logFile]) chownSync(path, asUser.uid, asUser.gid);
    command = 'setpriv';
    fullArgs = [`--reuid=${asUser.uid}`, `--regid=${asUser.gid}`, '--clear-groups', NGINX, ...args];
  }
  const url = `http://127.0.0.1:${g.instance.port}`;
  return startProcess({
    name: asUser ? 'nginx-unprivileged' : 'nginx',
    command,
    args: fullArgs,
    cwd: g.runDir,
    logFile,
    ready: async () => (await fetch(`${url}/healthz`).then((r) => r.status).catch(() => 0)) > 0,
  });
}

/**
 * Runs `body` against an nginx of its own for `spec`, in front of one stand-in per API instance (each answer held
 * back `delayMs[i]`), and stops them all afterwards.
 */
async function withGateway(
  spec: StackSpec,
  options: { readonly delayMs: readonly number[] },
  body: (url: string, instances: readonly [StandIn, StandIn]) => Promise<void>,
): Promise<void> {
  const instances = spec.api.instanceList.map((inst, i) => {
    const standIn = new StandIn(inst.name, inst.port);
    standIn.delayMs = options.delayMs[i] ?? 0;
    return standIn;
  });
  let nginx: ManagedProcess | undefined;
  try {
    for (const i of instances) await i.start();
    nginx = await startNginx(spec);
    await body(`http://127.0.0.1:${spec.gateway.instance.port}`, instances as [StandIn, StandIn]);
  } finally {
    await nginx?.stop();
    for (const i of instances) await i.stop();
  }
}


let workDir: string;

beforeAll(() => {
  workDir = mkdtempSync(join(tmpdir(), 'evergreen-config-nginx-'));
  registerTemporaryDir(workDir);
  // Workers (and the unprivileged run) must reach their run directories.
  chmodSync(workDir, 0o755);
});

afterAll(() => rmSync(workDir, { recursive: true, force: true }));

const TUNED: StackOverrides = {
  api: { instances: 5 },
  gateway: {
    upstreamKeepalive: 0,
    balancing: 'least-conn',
    workerProcesses: 2,
    workerConnections: 256,
    retries: 1,
    connectTimeout: '500ms',
    readTimeout: '1m',
    clientMaxBodySize: '1m',
    rateLimit: { rate: '30r/m', burst: 0, zoneSize: '1m' },
    trustedProxies: ['10.0.0.0/8', '192.0.2.7', 'fd00::/8'],
  },
};

describe('nginx -t accepts the rendered file of every target', () => {
  it.each<[string, StackTarget, StackOverrides]>([
    ['docker', 'docker', {}],
    ['loopback', 'loopback', {}],
    ['kubernetes', 'kubernetes', {}],
    ['docker, every gateway setting changed', 'docker', TUNED],
  ])('%s', async (label, target, overrides) => {
    const dir = join(workDir, `t-${label.replace(/\W+/g, '-')}`);
    mkdirSync(dir, { recursive: true });
    // Paths moved into the test directory (the deployed /tmp is not ours to write to here).
    const spec = defineStack(
      { ...overrides, gateway: { ...overrides.gateway, runDir: dir }, loopback: { workDir: dir } },
      target,
    );
    let content = renderNginxConf(spec);
    // The Kubernetes upstream is the API Service's DNS name, which only resolves inside a cluster.
    if (target === 'kubernetes') content = content.replaceAll(spec.gateway.upstreams[0]?.host as string, '127.0.0.1');
    mkdirSync(spec.gateway.tempDir, { recursive: true });
    const conf = join(dir, 'nginx.conf');
    writeFileSync(conf, content);
    // nginx opens /dev/stdout (the access log) again: give it a file, as a container runtime gives a pipe.
    const stdout = openSync(join(dir, 'stdout.log'), 'a');
    try {
      const result = spawnSync(NGINX, ['-t', '-p', dir, '-c', conf, '-e', 'stderr'], {
        stdio: ['ignore', stdout, 'pipe'],
        encoding: 'utf8',
        timeout: 20_000,
      });
      expect(result.stderr).toContain('test is successful');
      expect(result.status).toBe(0);
    } finally {
      closeSync(stdout);
    }
  });
});

describe('a real nginx with the rendered loopback config', () => {
  let spec: StackSpec;
  let url: string;
  let instances: [StandIn, StandIn];
  let nginx: ManagedProcess;

  beforeAll(async () => {
    spec = await loopbackSpec(join(workDir, 'main'));
    url = `http://127.0.0.1:${spec.gateway.instance.port}`;
    const [a, b] = spec.api.instanceList;
    instances = [new StandIn('api-0', a?.port as number), new StandIn('api-1', b?.port as number)];
    for (const i of instances) await i.start();
    nginx = await startNginx(spec);
  });

  afterAll(async () => {
    await nginx?.stop();
    for (const i of instances ?? []) await i.stop();
  });

  it('balances round-robin over every API instance', async () => {
    const answers: string[] = [];
    for (let i = 0; i < 6; i += 1) {
      const res = await fetch(`${url}/v1/products`);
      expect(res.status).toBe(200);
      answers.push(((await res.json()) as { instance: string }).instance);
    }
    expect(answers.filter((a) => a === 'api-0')).toHaveLength(3);
    expect(answers.filter((a) => a === 'api-1')).toHaveLength(3);
  });

  it('passes an incoming X-Request-Id through, and generates one otherwise (one header per response)', async () => {
    const given = await fetch(`${url}/v1/users`, { headers: { 'x-request-id': 'client-chosen-id-1' } });
    expect(given.headers.get('x-request-id')).toBe('client-chosen-id-1');
    expect(instances.some((i) => i.saw('client-chosen-id-1'))).toBe(true);

    const generated = await fetch(`${url}/v1/users`);
    const id = generated.headers.get('x-request-id') as string;
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(instances.some((i) => i.saw(id))).toBe(true);

    // An id the API would not keep (too long) is replaced, so nginx and the API log the same id.
    const tooLong = await fetch(`${url}/v1/users`, { headers: { 'x-request-id': 'x'.repeat(200) } });
    expect(tooLong.headers.get('x-request-id')).toMatch(/^[0-9a-f]{32}$/);
  });

  it('writes one JSON access-log line per request on stdout, with the request id, flushed within its interval', async () => {
    const ids = ['access-log-a', 'access-log-b', 'access-log-c'];
    for (const id of ids) expect((await fetch(`${url}/v1/users?n=1`, { headers: { 'x-request-id': id } })).status).toBe(200);
    // buffered (flush=250ms): the lines arrive together, well before this bound
    const lines = await waitFor(
      () => {
        const found = readFileSync(nginx.logFile, 'utf8').split('\n').filter((l) => ids.some((id) => l.includes(`"${id}"`)));
        return found.length === ids.length ? found : undefined;
      },
      { what: 'the access-log lines of three requests', timeoutMs: 5_000, intervalMs: 50 },
    );
    const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    // each worker buffers its own lines: their order across workers is not kept
    expect(records.map((r) => r.requestId).sort()).toEqual([...ids].sort());
    for (const r of records) {
      expect(r).toMatchObject({ method: 'GET', uri: '/v1/users?n=1', status: 200, upstreamStatus: '200', remoteAddr: '127.0.0.1' });
      expect(spec.api.instanceList.map((i) => `127.0.0.1:${i.port}`)).toContain(r.upstream);
      expect(typeof r.requestTime).toBe('number');
    }
  });

  it('does not serve /metrics or /readyz publicly, in any spelling', async () => {
    const before = instances[0].seen.length + instances[1].seen.length;
    for (const path of ['/metrics', '/METRICS', '/metrics/', '//metrics', '/readyz', '/Readyz?x=1', '/%6detrics']) {
      const res = await fetch(`${url}${path}`);
      expect([path, res.status]).toEqual([path, 404]);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
      expect(((await res.json()) as { status: number }).status).toBe(404);
    }
    expect(instances[0].seen.length + instances[1].seen.length).toBe(before);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
  });

  it('accepts a 64 KiB body and answers a larger one with 413 problem+json, without passing it on', async () => {
    const ok = await fetch(`${url}/v1/products`, { method: 'POST', body: 'a'.repeat(64 * 1024) });
    expect(ok.status).toBe(200);
    const res = await fetch(`${url}/v1/products`, {
      method: 'POST',
      body: 'a'.repeat(64 * 1024 + 1),
      headers: { 'x-request-id': 'too-large-1' },
    });
    expect(res.status).toBe(413);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(res.headers.get('x-request-id')).toBe('too-large-1');
    expect(await res.json()).toMatchObject({ status: 413, type: expect.stringMatching(/payload-too-large$/) });
    expect(instances.some((i) => i.saw('too-large-1'))).toBe(false);
  });

  it('serves stub_status on its own listener, not on the public one', async () => {
    const status = await fetch(`http://127.0.0.1:${spec.gateway.status.port}/stub_status`);
    expect(status.status).toBe(200);
    expect(await status.text()).toMatch(/^Active connections: \d+/);
    expect((await fetch(`http://127.0.0.1:${spec.gateway.status.port}/v1/products`)).status).toBe(404);
    const publicStatus = await fetch(`${url}/stub_status`);
    expect(await publicStatus.text()).not.toMatch(/Active connections/);
  });

  it('retries a GET that fails on one instance on the other one', async () => {
    instances[1].hangUp = true;
    let n = 0;
    const retried = await waitFor(
      async () => {
        const id = `get-retry-${(n += 1)}`;
        const res = await fetch(`${url}/v1/products`, { headers: { 'x-request-id': id } });
        expect(res.status).toBe(200);
        return instances[1].saw(id) && instances[0].saw(id) ? res : undefined;
      },
      { what: 'a GET sent to the failing instance', timeoutMs: 15_000, intervalMs: 200 },
    );
    expect(((await retried.json()) as { instance: string }).instance).toBe('api-0');
    instances[1].hangUp = false;
  });

  it('never retries a POST that reached an instance (a purchase must not run twice)', async () => {
    instances[1].hangUp = true;
    let n = 0;
    const failed = await waitFor(
      async () => {
        const id = `post-once-${(n += 1)}`;
        const res = await fetch(`${url}/v1/purchases`, { method: 'POST', body: '{}', headers: { 'x-request-id': id } });
        return instances[1].saw(id) ? { res, id } : undefined;
      },
      { what: 'a POST sent to the failing instance', timeoutMs: 15_000, intervalMs: 200 },
    );
    expect(instances[0].saw(failed.id)).toBe(false);
    expect(failed.res.status).toBe(503);
    expect(failed.res.headers.get('content-type')).toBe('application/problem+json');
    expect(failed.res.headers.get('x-request-id')).toBe(failed.id);
    expect(await failed.res.json()).toMatchObject({ status: 503, type: expect.stringMatching(/service-unavailable$/) });
    instances[1].hangUp = false;
  });

  it('sends every request, POSTs included, to the live instance when the other is down', async () => {
    await instances[1].stop();
    for (let i = 0; i < 6; i += 1) {
      const res = await fetch(`${url}/v1/purchases`, { method: i % 2 ? 'GET' : 'POST', body: i % 2 ? undefined : '{}' });
      expect(res.status).toBe(200);
      expect(((await res.json()) as { instance: string }).instance).toBe('api-0');
    }
  });
});

describe("least-connections balancing (gateway.balancing: 'least-conn')", () => {
  it('sends new requests to the instance with fewer in flight: a slow instance gets few', async () => {
    // one worker: each nginx worker keeps its own counts, and this looks at one worker's choices
    const spec = await loopbackSpec(join(workDir, 'least-conn'), { gateway: { balancing: 'least-conn', workerProcesses: 1 } });
    await withGateway(spec, { delayMs: [0, 3000] }, async (url, [fast, slow]) => {
      // 20 requests started 25 ms apart, all within the slow instance's first answer
      const answers: Promise<string>[] = [];
      for (let i = 0; i < 20; i += 1) {
        answers.push(fetch(`${url}/v1/products`).then(async (res) => ((await res.json()) as { instance: string }).instance));
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      const by = await Promise.all(answers);
      // round robin would send each 10
      expect(slow.seen.length).toBeLessThanOrEqual(5);
      expect(by.filter((a) => a === fast.name).length).toBeGreaterThanOrEqual(15);
    });
  });
});

describe('an instance that stops answering (gateway.readTimeout)', () => {
  it('a GET is tried on the other instance after the read timeout (retryTimeout longer than readTimeout)', async () => {
    // one worker, round robin: of two GETs in a row one goes to the hung instance first
    const spec = await loopbackSpec(join(workDir, 'read-timeout'), { gateway: { readTimeout: '1s', retryTimeout: '3s', workerProcesses: 1 } });
    await withGateway(spec, { delayMs: [0, 10_000] }, async (url, [live, hung]) => {
      for (const id of ['hung-1', 'hung-2']) {
        const res = await fetch(`${url}/v1/products`, { headers: { 'x-request-id': id } });
        expect({ id, status: res.status }).toEqual({ id, status: 200 });
        expect(((await res.json()) as { instance: string }).instance).toBe(live.name);
      }
      expect(hung.seen.length).toBeGreaterThanOrEqual(1); // it was asked, and given up on
    });
  });
});

describe('on Kubernetes: one upstream address, kube-proxy behind it', () => {
  /** Stands in for kube-proxy: each new connection to its port goes to the next of `targets`, in turn. */
  async function roundRobinProxy(targets: readonly number[]): Promise<{ port: number; close(): Promise<void> }> {
    let next = 0;
    const sockets = new Set<Socket>();
    const server = createNetServer((client) => {
      const upstream = connect(targets[next++ % targets.length] as number, '127.0.0.1');
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
      upstream.on('close', () => client.destroy());
      client.on('close', () => upstream.destroy());
    });
    const port = await freePort();
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    return {
      port,
      close: async () => {
        for (const s of sockets) s.destroy();
        await new Promise((resolve) => server.close(resolve));
      },
    };
  }

  it('a GET that fails on the pod kube-proxy picked is tried again on a new connection, i.e. most likely another pod', async () => {
    const dir = join(workDir, 'k8s-retry');
    mkdirSync(dir, { recursive: true });
    const [gatewayPort, statusPort] = [await freePort(), await freePort()];
    // no keep-alive to the Service: every request a new connection, so the proxy alternates between the pods
    const spec = defineStack({ gateway: { port: gatewayPort, statusPort, runDir: dir, upstreamKeepalive: 0 } }, 'kubernetes');
    const [service] = spec.gateway.upstreams;
    const dead = new StandIn('api-dead', await freePort());
    dead.hangUp = true;
    const live = new StandIn('api-live', await freePort());
    let nginx: ManagedProcess | undefined;
    let proxy: Awaited<ReturnType<typeof roundRobinProxy>> | undefined;
    try {
      await dead.start();
      await live.start();
      proxy = await roundRobinProxy([dead.port, live.port]);
      const content = renderNginxConf(spec)
        .replaceAll(`${service?.host}:${service?.port}`, `127.0.0.1:${proxy.port}`)
        .replace(`listen ${gatewayPort};`, `listen 127.0.0.1:${gatewayPort};`);
      nginx = await startNginx(spec, undefined, content);
      const statuses: number[] = [];
      for (let i = 0; i < 6; i += 1) {
        const res = await fetch(`http://127.0.0.1:${gatewayPort}/v1/products`);
        statuses.push(res.status);
        await res.arrayBuffer();
      }
      expect(statuses).toEqual(Array(6).fill(200));
      expect(dead.seen.length).toBeGreaterThan(0); // the dead pod was picked, and the request tried again
    } finally {
      await nginx?.stop();
      await proxy?.close();
      await dead.stop();
      await live.stop();
    }
  });
});

describe('behind a proxy (gateway.trustedProxies)', () => {
  /** Sends `count` requests as client `client` (X-Forwarded-For, as a proxy in front would); their statuses. */
  async function asClient(url: string, client: string, count: number): Promise<number[]> {
    const statuses: number[] = [];
    for (let i = 0; i < count; i += 1) {
      const res = await fetch(`${url}/v1/products`, { headers: { 'x-forwarded-for': client } });
      statuses.push(res.status);
      await res.arrayBuffer();
    }
    return statuses;
  }

  it.each([
    { trusted: true, what: 'a trusted proxy: each client has its own rate-limit budget and the API sees the client' },
    { trusted: false, what: 'no trusted proxy (the default): the header is ignored, a client cannot pick its address' },
  ])('$what', async ({ trusted }) => {
    const spec = await loopbackSpec(join(workDir, `proxy-${String(trusted)}`), {
      gateway: { rateLimit: { rate: '1r/m', burst: 2 }, ...(trusted ? { trustedProxies: ['127.0.0.1/32'] } : {}) },
    });
    await withGateway(spec, { delayMs: [0, 0] }, async (url, instances) => {
      // (the readiness probe took one request of 127.0.0.1's budget)
      expect(await asClient(url, '203.0.113.1', 4)).toContain(429);
      const other = await asClient(url, '203.0.113.2', 1);
      const seen = instances.flatMap((i) => i.seen).map((s) => s.forwardedFor);
      expect(seen.length).toBeGreaterThan(0);
      if (trusted) {
        expect(other).toEqual([200]);
        expect(seen).toContain('203.0.113.2');
      } else {
        expect(other).toEqual([429]); // the same budget as the first "client": both are 127.0.0.1
        expect(seen.every((f) => f === '127.0.0.1')).toBe(true);
      }
    });
  });
});

describe('unprivileged, with a tight rate limit', () => {
  it('runs as nobody and answers over-limit requests with 429 problem+json', async () => {
    const spec = await loopbackSpec(join(workDir, 'limited'), { gateway: { rateLimit: { rate: '1r/m', burst: 1 } } });
    const instance = new StandIn('api-0', spec.api.instanceList[0]?.port as number);
    await instance.start();
    // As root (CI), drop to nobody; otherwise this process is unprivileged already.
    const nobody = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : undefined;
    mkdirSync(spec.gateway.runDir, { recursive: true });
    let nginx: ManagedProcess | undefined;
    try {
      nginx = await startNginx(spec, nobody);
      if (nobody) {
        const status = readFileSync(`/proc/${nginx.pid}/status`, 'utf8');
        expect(status).toMatch(/^Uid:\s+65534\s+65534/m);
      }
      const url = `http://127.0.0.1:${spec.gateway.instance.port}`;
      // The readiness probe used one request of the burst; one more fits, then the limit holds.
      const statuses: number[] = [];
      let limited: Response | undefined;
      for (let i = 0; i < 4; i += 1) {
        const res = await fetch(`${url}/v1/products`);
        statuses.push(res.status);
        if (res.status === 429) limited = res;
        else await res.arrayBuffer();
      }
      expect(statuses).toContain(429);
      expect(limited?.headers.get('content-type')).toBe('application/problem+json');
      expect(limited?.headers.get('retry-after')).toBe('1');
      expect(limited?.headers.get('x-request-id')).toMatch(/^[0-9a-f]{32}$/);
      expect(await limited?.json()).toMatchObject({ status: 429, type: expect.stringMatching(/too-many-requests$/) });
    } finally {
      await nginx?.stop();
      await instance.stop();
    }
  });
});
