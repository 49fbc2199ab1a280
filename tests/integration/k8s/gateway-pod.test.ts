/**
 * The gateway pod as the manifests describe it, run on loopback: nginx with the ConfigMap's nginx.conf and
 * the container's own command line (`-e stderr`, `-c`, `-g 'daemon off;'`), and the exporter sidecar with
 * its own arguments reading stub_status on 127.0.0.1. Only addresses, ports and the writable directory
 * are replaced (and the binaries are the Debian ones).
 */
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startProcess } from '../../support/processes';
import { waitFor } from '../../support/wait';
import { configData, synth, workload } from '../../unit/k8s/support/manifests';

jest.setTimeout(60_000);

const { spec, objects } = synth();
const pod = workload(objects, 'gateway').pod;
let dir: string;
let api: Server;
let apiPort: number;
let httpPort: number;
let statusPort: number;
let metricsPort: number;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'evergreen-k8s-gateway-'));
  [apiPort, httpPort, statusPort, metricsPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  // A stand-in for the API Service: answers every request with where it came from.
  api = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ path: req.url, requestId: req.headers['x-request-id'] }));
  });
  await new Promise<void>((resolve) => api.listen(apiPort, '127.0.0.1', resolve));
});

afterAll(async () => {
  await new Promise<void>((resolve) => api.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});

it('nginx (pod command and config) proxies to the API, and the exporter sidecar reads its status', async () => {
  const g = spec.gateway;
  const upstream = g.upstreams[0];
  let conf = configData(objects, 'gateway-config', 'nginx.conf');
  const replace = (from: string, to: string) => {
    if (!conf.includes(from)) throw new Error(`nginx.conf has no "${from}"`);
    conf = conf.split(from).join(to);
  };
  replace(`server ${upstream?.host}:${upstream?.port} `, `server 127.0.0.1:${apiPort} `);
  replace(`listen ${g.instance.port};`, `listen 127.0.0.1:${httpPort};`);
  replace(`listen 127.0.0.1:${g.status.port};`, `listen 127.0.0.1:${statusPort};`);
  replace(`"${g.runDir}/`, `"${dir}/`);
  const confPath = join(dir, 'nginx.conf');
  writeFileSync(confPath, conf);

  const [nginx, exporter] = pod.containers;
  const nginxArgs = (nginx?.command ?? []).slice(1).map((arg) => (arg.endsWith('/nginx.conf') ? confPath : arg));
  expect(nginxArgs).toEqual(['-e', 'stderr', '-c', confPath, '-g', 'daemon off;']);
  await startProcess({
    name: 'gateway-nginx',
    command: 'nginx',
    args: nginxArgs,
    ready: async () => (await fetch(`http://127.0.0.1:${httpPort}/v1/products`).catch(() => undefined)) !== undefined,
  });
  const response = await fetch(`http://127.0.0.1:${httpPort}/v1/products?limit=1`, { headers: { 'x-request-id': 'k8s-test-1' } });
  expect(response.status).toBe(200);
  expect(await response.json()).toEqual({ path: '/v1/products?limit=1', requestId: 'k8s-test-1' });

  const exporterArgs = (exporter?.args ?? []).map((arg) =>
    arg
      .replace(`127.0.0.1:${g.status.port}/`, `127.0.0.1:${statusPort}/`)
      .replace(`--web.listen-address=:${spec.monitoring.nginxExporter.port}`, `--web.listen-address=127.0.0.1:${metricsPort}`),
  );
  expect(exporterArgs).toEqual([`--nginx.scrape-uri=http://127.0.0.1:${statusPort}/stub_status`, `--web.listen-address=127.0.0.1:${metricsPort}`]);
  await startProcess({
    name: 'gateway-exporter',
    command: 'prometheus-nginx-exporter',
    args: exporterArgs,
    ready: async () => (await fetch(`http://127.0.0.1:${metricsPort}/metrics`).catch(() => undefined))?.ok === true,
  });
  const metrics = await waitFor(
    async () => {
      const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      return /^nginx_up 1$/m.test(text) ? text : undefined;
    },
    { what: 'the exporter to read stub_status (nginx_up 1)', timeoutMs: 10_000 },
  );
  expect(metrics).toMatch(/^nginx_http_requests_total \d+$/m);
});
