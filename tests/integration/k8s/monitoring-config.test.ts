/**
 * The monitoring ConfigMaps of the manifests, laid out as the pods mount them, pass the real checkers:
 * `promtool check config` (prometheus.yml with the API pods' DNS discovery and alerts.yml beside it) and
 * `amtool check-config`. Grafana's provisioning items land at the paths Grafana reads.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parse } from 'yaml';
import { synth } from '../../unit/k8s/support/manifests';
import { GRAFANA_DASHBOARDS_DIR } from '../../../config/render';

jest.setTimeout(60_000);

const { objects } = synth({ monitoring: { alertWebhookUrl: 'https://alerts.example.com/hook' } });
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'evergreen-k8s-monitoring-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Volume {
  name: string;
  configMap?: { name: string; items?: { key: string; path: string }[] };
}

/** Writes the ConfigMap volumes of a StatefulSet's pod under `root` as the kubelet would mount them. */
function mountConfigMaps(statefulSet: string, root: string): void {
  const object = objects.find((o) => o.kind === 'StatefulSet' && o.metadata.name === statefulSet) as unknown as {
    spec: { template: { spec: { volumes: Volume[]; containers: { volumeMounts: { name: string; mountPath: string }[] }[] } } };
  };
  const pod = object.spec.template.spec;
  for (const mount of pod.containers[0]?.volumeMounts ?? []) {
    const volume = pod.volumes.find((v) => v.name === mount.name);
    if (!volume?.configMap) continue;
    const cm = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === volume.configMap?.name) as unknown as { data: Record<string, string> };
    const items = volume.configMap.items ?? Object.keys(cm.data).map((key) => ({ key, path: key }));
    for (const item of items) {
      const path = join(root, mount.mountPath, item.path);
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, cm.data[item.key] as string);
    }
  }
}

it('prometheus.yml and its rules pass promtool as mounted', () => {
  const root = join(dir, 'prometheus');
  mountConfigMaps('prometheus', root);
  const result = spawnSync('promtool', ['check', 'config', join(root, 'etc/prometheus/prometheus.yml')], { encoding: 'utf8' });
  expect(`${result.stdout}${result.stderr}`).toMatch(/SUCCESS: .*prometheus\.yml is valid/);
  expect(`${result.stdout}${result.stderr}`).toMatch(/SUCCESS: \d+ rules found/);
  expect(result.status).toBe(0);
});

it('alertmanager.yml passes amtool as mounted', () => {
  const root = join(dir, 'alertmanager');
  mountConfigMaps('alertmanager', root);
  const result = spawnSync('amtool', ['check-config', join(root, 'etc/alertmanager/alertmanager.yml')], { encoding: 'utf8' });
  expect(`${result.stdout}${result.stderr}`).toMatch(/SUCCESS/);
  expect(result.status).toBe(0);
});

it("Grafana's datasource, dashboard provider and dashboards land where Grafana reads them", () => {
  const root = join(dir, 'grafana');
  mountConfigMaps('grafana', root);
  const read = (path: string) => readFileSync(join(root, path), 'utf8');
  const datasources = parse(read('etc/grafana/provisioning/datasources/prometheus.yml')) as { datasources: { url: string }[] };
  expect(datasources.datasources[0]?.url).toBe('http://prometheus.evergreen.svc.cluster.local:9090');
  const provider = parse(read('etc/grafana/provisioning/dashboards/evergreen.yml')) as { providers: { options: { path: string } }[] };
  const dashboardsDir = provider.providers[0]?.options.path ?? '';
  expect(dashboardsDir).toBe(GRAFANA_DASHBOARDS_DIR);
  const listing = readdirSync(join(root, dashboardsDir));
  expect(listing.length).toBeGreaterThanOrEqual(3);
  for (const file of listing) expect(() => JSON.parse(read(join(dashboardsDir, file)))).not.toThrow();
});
