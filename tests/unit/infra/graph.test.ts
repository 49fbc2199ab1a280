/**
 * The whole resource graph of the default stack, as `pulumi up` would register it (recorded under
 * Pulumi's mocks): every container's settings, addresses, images, uploads, secrets and exposure.
 */
import { defineStack, isHostInSubnet, renderAll, type StackSpec } from '../../../config';
import { readFileSync } from 'node:fs';

import { API_MAIN, apiContentHash, REPO_ROOT } from '../../../infra/components/api-tier';
import { START_SCRIPT_SOURCE } from '../../../infra/components/redis-tier';
import { IMAGE_FACTS } from '../../../infra/images';
import {
  NETWORK_TYPE,
  REMOTE_IMAGE_TYPE,
  VOLUME_TYPE,
  isSecretInput,
  recordProgram,
  resourcesOfType,
  type RecordedProgram,
} from '../../support/pulumi-harness';
import {
  containerOf,
  containers,
  inputsOf,
  label,
  recordedSecrets,
  secretValues,
  stringLeaves,
} from './support';

let program: RecordedProgram;
let spec: StackSpec;

beforeAll(async () => {
  program = await recordProgram({});
  spec = defineStack({}, 'docker');
}, 60_000);

describe('the default stack', () => {
  test('has one container per instance of the model, each with its own name and instance label', () => {
    const instances = spec.instances.map((i) => i.name).sort();
    expect(containers(program).map((c) => label(c, 'evergreen.instance')).sort()).toEqual(instances);
    expect(containers(program)).toHaveLength(19);
    const names = containers(program).map((c) => inputsOf(c).name);
    expect(new Set(names).size).toBe(names.length);
    for (const instance of spec.instances) expect(inputsOf(containerOf(program, instance.name)).name).toBe(instance.containerName);
  });

  test('puts every Docker resource under one of the components, and the components under the stack', () => {
    const components = program.resources.filter((r) => r.type.startsWith('evergreen:'));
    expect(components.map((c) => c.type).sort()).toEqual([
      'evergreen:api:ApiTier',
      'evergreen:gateway:Gateway',
      'evergreen:monitoring:Monitoring',
      'evergreen:network:StackNetwork',
      'evergreen:redis:RedisTier',
      'evergreen:secrets:StackSecrets',
    ]);
    const componentUrns = new Set(components.map((c) => c.urn));
    for (const r of program.resources.filter((x) => x.custom)) {
      expect({ resource: r.name, parentIsComponent: componentUrns.has(r.parentUrn ?? '') }).toEqual({
        resource: r.name,
        parentIsComponent: true,
      });
    }
    const byType = (t: string) => components.find((c) => c.type === t)?.urn;
    expect(containerOf(program, 'redis-0').parentUrn).toBe(byType('evergreen:redis:RedisTier'));
    expect(containerOf(program, 'sentinel-2').parentUrn).toBe(byType('evergreen:redis:RedisTier'));
    expect(containerOf(program, 'api-1').parentUrn).toBe(byType('evergreen:api:ApiTier'));
    expect(containerOf(program, 'gateway').parentUrn).toBe(byType('evergreen:gateway:Gateway'));
    expect(containerOf(program, 'grafana').parentUrn).toBe(byType('evergreen:monitoring:Monitoring'));
    expect(containerOf(program, 'redis-exporter-0').parentUrn).toBe(byType('evergreen:monitoring:Monitoring'));
  });

  test('has one network with the model subnet, replaced by deleting it first', () => {
    const [network, ...others] = resourcesOfType(program, NETWORK_TYPE);
    expect(others).toHaveLength(0);
    expect(network?.inputs).toMatchObject({
      name: 'evergreen',
      driver: 'bridge',
      ipamConfigs: [{ subnet: '172.20.0.0/24', gateway: '172.20.0.1' }],
    });
    expect(network?.options.deleteBeforeReplace).toBe(true);
    for (const c of containers(program)) expect(inputsOf(c).networksAdvanced.map((n) => n.name)).toEqual(['evergreen']);
  });

  test('gives every container the fixed address of the model, unique and inside the subnet', () => {
    const addresses = containers(program).map((c) => inputsOf(c).networksAdvanced[0]?.ipv4Address as string);
    expect(new Set(addresses).size).toBe(addresses.length);
    for (const a of addresses) expect(isHostInSubnet(a, '172.20.0.0/24')).toBe(true);
    expect(addresses).not.toContain('172.20.0.1'); // Docker's gateway
    for (const instance of spec.instances) {
      expect(inputsOf(containerOf(program, instance.name)).networksAdvanced[0]?.ipv4Address).toBe(instance.address);
    }
  });

  test('sets restart, labels, log rotation, memory limit and user on every container', () => {
    for (const c of containers(program)) {
      const i = inputsOf(c);
      const instance = label(c, 'evergreen.instance') as string;
      const service = spec.instances.find((x) => x.name === instance)?.service;
      expect(service).toBeDefined();
      const facts = IMAGE_FACTS[service as keyof typeof IMAGE_FACTS];
      expect({ instance, restart: i.restart }).toEqual({ instance, restart: 'unless-stopped' });
      expect(i.labels.map((l) => l.label).sort()).toEqual([
        'evergreen.config-hash',
        'evergreen.instance',
        'evergreen.service',
        'evergreen.stack',
      ]);
      expect(label(c, 'evergreen.stack')).toBe('evergreen');
      expect(label(c, 'evergreen.service')).toBe(service);
      expect(label(c, 'evergreen.config-hash')).toMatch(/^[0-9a-f]{16}$/);
      expect(i.logDriver).toBe('json-file');
      expect(i.logOpts).toEqual({ 'max-size': '10m', 'max-file': '3' });
      expect(i.memory).toBeGreaterThanOrEqual(64);
      expect(i.memorySwap).toBe(i.memory);
      expect(i.user).toBe(`${facts.user.uid}:${facts.user.gid}`);
      expect(i.hostname).toBe(instance);
    }
    expect(inputsOf(containerOf(program, 'redis-0')).memory).toBe(512);
    expect(inputsOf(containerOf(program, 'api-0')).memory).toBe(256);
  });

  test("runs each service's binary (or start-up shell) by its absolute path, as infra/images.ts records it", () => {
    for (const c of containers(program)) {
      const service = label(c, 'evergreen.service') as keyof typeof IMAGE_FACTS;
      const facts = IMAGE_FACTS[service];
      const [entrypoint, ...rest] = inputsOf(c).entrypoints;
      expect(rest).toEqual([]);
      expect(entrypoint).toBe(facts.shell ?? facts.binary);
      expect(entrypoint?.startsWith('/')).toBe(true);
      expect(facts.tools).toEqual(expect.arrayContaining([facts.binary, ...(facts.shell ? [facts.shell] : [])]));
    }
    // Redis and Sentinel start through redis-start.sh (shared with Kubernetes), which finds the role.
    const redis1 = inputsOf(containerOf(program, 'redis-1'));
    expect(redis1.command).toEqual(['/usr/local/etc/evergreen/redis-start.sh', 'redis']);
    expect(redis1.envs).toEqual(
      expect.arrayContaining([
        'REDIS_CONFIG_TEMPLATE=/usr/local/etc/evergreen/redis.conf',
        'REDIS_CONFIG_FILE=/data/redis.conf',
        'REDIS_ANNOUNCE_HOST=172.20.0.61',
        'REDIS_BOOTSTRAP_MASTER_HOST=172.20.0.60',
        'SENTINEL_ADDRESSES=172.20.0.80:26379,172.20.0.81:26379,172.20.0.82:26379',
        'REDIS_SERVER=/usr/local/bin/redis-server',
        'REDIS_QUERY_USER=api',
      ]),
    );
    expect(inputsOf(containerOf(program, 'sentinel-0')).command).toEqual(['/usr/local/etc/evergreen/redis-start.sh', 'sentinel']);
    expect(inputsOf(containerOf(program, 'sentinel-0')).envs).toEqual(
      expect.arrayContaining(['SENTINEL_CONFIG_FILE=/data/sentinel.conf', 'SENTINEL_ANNOUNCE_HOST=172.20.0.80']),
    );
    expect(inputsOf(containerOf(program, 'api-0')).command).toEqual([API_MAIN]);
    expect(inputsOf(containerOf(program, 'gateway')).command).toEqual(['-e', 'stderr', '-c', '/etc/nginx/nginx.conf', '-g', 'daemon off;']);
    expect(inputsOf(containerOf(program, 'prometheus')).command).toEqual(
      expect.arrayContaining(['--config.file=/etc/prometheus/prometheus.yml', '--storage.tsdb.path=/prometheus']),
    );
  });

  test('health-checks every container whose image has a tool for it, with that tool, and waits for it', () => {
    for (const c of containers(program)) {
      const facts = IMAGE_FACTS[label(c, 'evergreen.service') as keyof typeof IMAGE_FACTS];
      const i = inputsOf(c);
      if (facts.healthTool === undefined) {
        expect({ container: i.name, healthcheck: i.healthcheck, wait: i.wait }).toEqual({
          container: i.name,
          healthcheck: undefined,
          wait: false,
        });
        continue;
      }
      expect(i.healthcheck?.tests.slice(0, 2)).toEqual(['CMD', facts.healthTool]);
      expect(facts.tools).toContain(facts.healthTool);
      expect(i.healthcheck).toMatchObject({ interval: '10s', timeout: '5s', retries: 3 });
      expect(i.wait).toBe(true);
    }
    // Only the scratch-based exporter images lack a tool; everything that serves the store is checked.
    const unchecked = containers(program).filter((c) => inputsOf(c).healthcheck === undefined).map((c) => label(c, 'evergreen.service'));
    expect(new Set(unchecked)).toEqual(new Set(['redis-exporter', 'sentinel-exporter', 'nginx-exporter']));
    expect(inputsOf(containerOf(program, 'redis-0')).healthcheck?.tests).toEqual([
      'CMD', '/usr/local/bin/redis-cli', '-h', '127.0.0.1', '-p', '6379', '--user', 'exporter', '-e', 'PING',
    ]);
    expect(inputsOf(containerOf(program, 'gateway')).healthcheck?.tests).toContain('http://127.0.0.1:8080/healthz');
  });

  test('runs containers from image ids (digests), never from tags', () => {
    const images = resourcesOfType(program, REMOTE_IMAGE_TYPE);
    const ids = new Set(images.map((i) => i.state.imageId as string));
    for (const c of containers(program)) {
      expect(inputsOf(c).image).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(ids.has(inputsOf(c).image)).toBe(true);
    }
    const byName = (n: string) => images.find((i) => i.inputs.name === n);
    const redisImage = byName(spec.images.redis);
    expect(inputsOf(containerOf(program, 'sentinel-1')).image).toBe(redisImage?.state.imageId);
    expect(inputsOf(containerOf(program, 'redis-2')).image).toBe(redisImage?.state.imageId);
    expect(inputsOf(containerOf(program, 'gateway')).image).toBe(byName(spec.images.nginx)?.state.imageId);
  });

  test('pulls the model images and builds the API image from api/Dockerfile, tagged by the content of api/', () => {
    const names = resourcesOfType(program, REMOTE_IMAGE_TYPE).map((i) => i.inputs.name as string);
    const hash = apiContentHash();
    expect(names.sort()).toEqual(
      [
        spec.images.nginx,
        spec.images.redis,
        spec.images.prometheus,
        spec.images.alertmanager,
        spec.images.grafana,
        spec.images.redisExporter,
        spec.images.nginxExporter,
        `evergreen/api:${hash.slice(0, 12)}`,
      ].sort(),
    );
    const api = resourcesOfType(program, REMOTE_IMAGE_TYPE).find((i) => (i.inputs.name as string).startsWith('evergreen/api:'));
    expect(api?.inputs).toMatchObject({
      build: { context: REPO_ROOT, dockerfile: 'api/Dockerfile', buildArgs: { NODE_IMAGE: 'node:22-bookworm-slim' } },
      triggers: { apiContent: hash },
    });
    for (const c of containers(program).filter((x) => label(x, 'evergreen.service') === 'api')) {
      expect(inputsOf(c).image).toBe(api?.state.imageId);
    }
  });

  test('stops every container with SIGTERM and a grace period, on docker stop and on a replacement (API: its drain; Redis: its snapshot)', () => {
    for (const c of containers(program)) {
      const i = inputsOf(c);
      // without destroyGraceSeconds the provider removes a replaced container at once: in-flight requests are cut
      expect({ container: i.name, grace: i.destroyGraceSeconds }).toEqual({ container: i.name, grace: i.stopTimeout });
      expect(i.stopTimeout).toBeGreaterThanOrEqual(10);
    }
    // the API drains for API_SHUTDOWN_TIMEOUT_MS (10 s by default) before it exits
    expect(inputsOf(containerOf(program, 'api-0')).destroyGraceSeconds).toBeGreaterThan(10);
    expect(inputsOf(containerOf(program, 'redis-0')).destroyGraceSeconds).toBeGreaterThanOrEqual(30);
  });

  test('replaces containers and volumes (fixed names and addresses) by deleting the old one first', () => {
    for (const r of [...containers(program), ...resourcesOfType(program, VOLUME_TYPE)]) {
      expect({ resource: r.name, deleteBeforeReplace: r.options.deleteBeforeReplace }).toEqual({
        resource: r.name,
        deleteBeforeReplace: true,
      });
    }
  });

  test('never deletes a data volume: not on a replacement (a renamed stack), not on destroy', () => {
    const volumes = resourcesOfType(program, VOLUME_TYPE);
    expect(volumes.length).toBeGreaterThan(0);
    for (const v of volumes) expect({ volume: v.name, retainOnDelete: v.options.retainOnDelete }).toEqual({ volume: v.name, retainOnDelete: true });
  });

  test('keeps Redis, Sentinel, Prometheus, Alertmanager and Grafana data on named volumes', () => {
    const volumes = resourcesOfType(program, VOLUME_TYPE).map((v) => v.inputs.name as string);
    expect(volumes.sort()).toEqual(
      ['redis-0', 'redis-1', 'redis-2', 'sentinel-0', 'sentinel-1', 'sentinel-2', 'prometheus', 'alertmanager', 'grafana']
        .map((n) => `evergreen-${n}-data`)
        .sort(),
    );
    const mounts = (instance: string) => inputsOf(containerOf(program, instance)).volumes;
    expect(mounts('redis-1')).toEqual([{ volumeName: 'evergreen-redis-1-data', containerPath: '/data' }]);
    // The Sentinel's rewritten sentinel.conf (SENTINEL_CONFIG_FILE=/data/sentinel.conf), read back at its next start.
    expect(mounts('sentinel-2')).toEqual([{ volumeName: 'evergreen-sentinel-2-data', containerPath: '/data' }]);
    expect(mounts('prometheus')).toEqual([{ volumeName: 'evergreen-prometheus-data', containerPath: '/prometheus' }]);
    expect(mounts('alertmanager')).toEqual([{ volumeName: 'evergreen-alertmanager-data', containerPath: '/alertmanager' }]);
    expect(mounts('grafana')).toEqual([{ volumeName: 'evergreen-grafana-data', containerPath: '/var/lib/grafana' }]);
    expect(mounts('api-0')).toEqual([]);
  });

  test("uploads exactly the renderers' files to the containers that read them", () => {
    const secrets = recordedSecrets(program);
    const rendered = renderAll(spec, secrets);
    const uploadedPaths = new Set<string>();
    for (const file of rendered) {
      const c = containerOf(program, file.service);
      const i = inputsOf(c);
      if (file.path.startsWith('api/')) {
        // The rendered env file is the container's environment, but for its two secrets: they are in files
        // (REDIS_PASSWORD_FILE, API_TOKENS_FILE), 0600, which `docker inspect` does not show.
        const env = new Map(i.envs.map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]));
        const effective = new Map([...env].filter(([k]) => !k.endsWith('_FILE')));
        for (const name of ['REDIS_PASSWORD', 'API_TOKENS']) {
          expect(env.has(name)).toBe(false);
          const secretFile = i.uploads.find((u) => u.file === env.get(`${name}_FILE`));
          expect({ name, permissions: secretFile?.permissions }).toEqual({ name, permissions: '0600' });
          effective.set(name, secretFile?.content ?? '');
          uploadedPaths.add(`${file.service}:${secretFile?.file}`);
        }
        expect([...effective].map(([k, v]) => `${k}=${v}`).sort()).toEqual(file.content.trim().split('\n').sort());
        continue;
      }
      const upload = i.uploads.find((u) => u.content === file.content);
      expect({ file: file.path, uploaded: upload !== undefined }).toEqual({ file: file.path, uploaded: true });
      uploadedPaths.add(`${file.service}:${upload?.file}`);
      expect(upload?.permissions).toBe(file.containsSecret ? '0600' : '0644');
    }
    // Nothing else is uploaded, but Grafana's admin password file, and the Redis start-up script and the password it
    // asks with (the `api` user's, 0600: not in the environment).
    const script = readFileSync(START_SCRIPT_SOURCE, 'utf8');
    const allUploads = containers(program).flatMap((c) => inputsOf(c).uploads.map((u) => `${label(c, 'evergreen.instance')}:${u.file}`));
    expect(allUploads.filter((u) => !uploadedPaths.has(u)).sort()).toEqual(
      [
        'grafana:/etc/grafana/secrets/admin-password',
        ...[...spec.redis.nodes, ...spec.sentinel.instances].flatMap((i) => [
          `${i.name}:/usr/local/etc/evergreen/redis-start.sh`,
          `${i.name}:/usr/local/etc/evergreen/query-password`,
        ]),
      ].sort(),
    );
    for (const instance of ['redis-0', 'sentinel-2']) {
      const i = inputsOf(containerOf(program, instance));
      const upload = i.uploads.find((u) => u.file.endsWith('/redis-start.sh'));
      expect(upload?.content).toBe(script);
      const password = i.uploads.find((u) => u.file === i.envs.find((e) => e.startsWith('REDIS_QUERY_PASSWORD_FILE='))?.split('=')[1]);
      expect(password).toMatchObject({ content: secrets.redisPasswords.api, permissions: '0600' });
      expect(i.envs.some((e) => e.includes(secrets.redisPasswords.api))).toBe(false);
    }
    const grafana = inputsOf(containerOf(program, 'grafana'));
    expect(grafana.uploads.find((u) => u.file === '/etc/grafana/secrets/admin-password')?.content).toBe(secrets.grafanaAdminPassword);
    expect(grafana.envs).toContain('GF_SECURITY_ADMIN_PASSWORD__FILE=/etc/grafana/secrets/admin-password');
    // Files go where the services read them, owned by the service's user.
    expect(inputsOf(containerOf(program, 'sentinel-1')).uploads.map((u) => [u.file, u.owner, u.group, u.permissions])).toEqual([
      ['/usr/local/etc/evergreen/redis-start.sh', '999', '1000', '0644'],
      ['/usr/local/etc/evergreen/query-password', '999', '1000', '0600'],
      ['/usr/local/etc/evergreen/sentinel.conf', '999', '1000', '0600'],
    ]);
    expect(inputsOf(containerOf(program, 'prometheus')).uploads.map((u) => u.file).sort()).toEqual([
      '/etc/prometheus/alerts.yml',
      '/etc/prometheus/prometheus.yml',
    ]);
    expect(grafana.uploads.map((u) => u.file)).toEqual(
      expect.arrayContaining(['/etc/grafana/provisioning/datasources/prometheus.yml', '/etc/grafana/provisioning/dashboards/evergreen.yml']),
    );
  });

  test('makes every input holding a secret a Pulumi secret, and keeps secret-free inputs plain', () => {
    const values = secretValues(recordedSecrets(program));
    for (const v of values) expect(v).toMatch(/^[A-Za-z0-9]{32}$/);
    for (const r of program.resources) {
      for (const leaf of stringLeaves(r.inputs)) {
        if (values.some((v) => leaf.value.includes(v))) {
          expect({ resource: r.name, path: leaf.path, secret: isSecretInput(r, leaf.path) }).toEqual({
            resource: r.name,
            path: leaf.path,
            secret: true,
          });
        }
      }
    }
    // Files without secrets stay readable in `pulumi preview`.
    expect(containerOf(program, 'gateway').secretPaths).toEqual([]);
    expect(containerOf(program, 'prometheus').secretPaths).toEqual([]);
    expect(isSecretInput(containerOf(program, 'redis-0'), 'uploads[1].content')).toBe(true);
    // the API's environment holds no secret any more (they are in uploaded files): readable in preview
    expect(isSecretInput(containerOf(program, 'api-0'), 'envs[0]')).toBe(false);
    expect(inputsOf(containerOf(program, 'api-0')).uploads.every((_, n) => isSecretInput(containerOf(program, 'api-0'), `uploads[${n}].content`))).toBe(true);
  });

  test('outputs the public URL and every container, and secrets only as Pulumi secrets', () => {
    const secrets = recordedSecrets(program);
    expect([...program.secretOutputPaths].sort()).toEqual(['apiToken', 'grafanaAdminPassword']);
    expect(program.outputs.apiToken).toBe(secrets.apiTokens[0]);
    expect(program.outputs.grafanaAdminPassword).toBe(secrets.grafanaAdminPassword);
    const values = secretValues(secrets);
    for (const leaf of stringLeaves(program.outputs)) {
      if (values.some((v) => leaf.value.includes(v))) expect(program.secretOutputPaths).toContain(leaf.path);
    }
    expect(program.outputs.publicUrl).toBe('http://localhost:8080');
    expect(program.outputs.grafanaUrl).toBeUndefined();
    expect(program.outputs.prometheusUrl).toBeUndefined();
    const names = program.outputs.containers as Record<string, string>;
    expect(Object.keys(names).sort()).toEqual(spec.instances.map((i) => i.name).sort());
    expect(names['redis-0']).toBe('evergreen-redis-0');
  });

  test('publishes only the gateway, on the configured public port', () => {
    for (const c of containers(program)) {
      const instance = label(c, 'evergreen.instance');
      const expected = instance === 'gateway' ? [{ internal: 8080, external: 8080, ip: '0.0.0.0', protocol: 'tcp' }] : [];
      expect({ instance, ports: inputsOf(c).ports }).toEqual({ instance, ports: expected });
    }
  });

  test('runs nginx unprivileged with its run and temp directories on tmpfs owned by its user', () => {
    const g = inputsOf(containerOf(program, 'gateway'));
    expect(Object.keys(g.tmpfs ?? {}).sort()).toEqual([...new Set([spec.gateway.runDir, spec.gateway.tempDir])].sort());
    for (const options of Object.values(g.tmpfs ?? {})) expect(options).toContain('uid=101,gid=101');
    expect(containerOf(program, 'gateway').options.dependsOn).toEqual(
      expect.arrayContaining([containerOf(program, 'api-0').urn, containerOf(program, 'api-1').urn]),
    );
  });
});
