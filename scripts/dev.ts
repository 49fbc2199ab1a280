/**
 * `npm run dev`: the whole stack on this machine for a person — a Redis master and replicas, Sentinels,
 * API instances and nginx in front, all on 127.0.0.1, started from the same rendered configuration the
 * deployments use (tests/support/loopback.ts). Serves on http://127.0.0.1:8080 unless told otherwise,
 * prints where to reach it and the API token, and stops every process it started on Ctrl-C / SIGTERM,
 * removing its temporary directory.
 *
 *   npm run dev                          # gateway on 127.0.0.1:8080
 *   npm run dev -- --port 9000           # or EVERGREEN_DEV_PORT=9000 npm run dev
 *   npm run dev -- --api-instances 3 --replicas 2 --sentinels 3 --keep
 */
import { parseArgs } from 'node:util';
import { DEPLOYED_SENTINEL_TIMING, startLoopbackTopology, type LoopbackTopology, type LoopbackTopologyProps } from '../tests/support/loopback';
import { installExitHooks } from '../tests/support/processes';

/** Port of the gateway when neither `--port` nor EVERGREEN_DEV_PORT is given. */
export const DEFAULT_DEV_PORT = 8080;

const USAGE = `usage: npm run dev -- [--port N] [--api-instances N] [--replicas N] [--sentinels N] [--keep]
  --port N           gateway (nginx) port on 127.0.0.1 (env EVERGREEN_DEV_PORT; default ${DEFAULT_DEV_PORT})
  --api-instances N  API instances behind nginx (default 2)
  --replicas N       Redis replicas (default 2)
  --sentinels N      Sentinels, odd and >= 3 (default 3)
  --keep             keep the work dir (configs, data, logs) after stopping`;

export interface DevOptions {
  readonly port: number;
  readonly apiInstances: number;
  readonly replicas: number;
  readonly sentinels: number;
  readonly keep: boolean;
}

/** Command line + environment → options; throws one Error naming every bad argument. */
export function parseDevOptions(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): DevOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      port: { type: 'string' },
      'api-instances': { type: 'string' },
      replicas: { type: 'string' },
      sentinels: { type: 'string' },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) throw new Error(USAGE);
  const problems: string[] = [];
  const integer = (name: string, text: string | undefined, fallback: number, min: number, max: number): number => {
    if (text === undefined || text === '') return fallback;
    const n = Number(text);
    if (!/^\d+$/.test(text) || n < min || n > max) {
      problems.push(`${name} must be an integer ${min}..${max}, got "${text}"`);
      return fallback;
    }
    return n;
  };
  const options: DevOptions = {
    port: integer(
      values.port !== undefined ? '--port' : 'EVERGREEN_DEV_PORT',
      values.port ?? env.EVERGREEN_DEV_PORT,
      DEFAULT_DEV_PORT,
      1,
      65535,
    ),
    apiInstances: integer('--api-instances', values['api-instances'], 2, 1, 16),
    replicas: integer('--replicas', values.replicas, 2, 1, 8),
    sentinels: integer('--sentinels', values.sentinels, 3, 3, 9),
    keep: values.keep,
  };
  // as the stack model would refuse it, only after the build and the port allocation
  if (options.sentinels % 2 === 0) problems.push(`--sentinels must be odd, so that a majority survives a split (got ${options.sentinels})`);
  if (problems.length > 0) throw new Error(`${problems.join('; ')}\n${USAGE}`);
  return options;
}

/** What to print once the topology is up: where to reach it, the token, sample requests. */
export function describeTopology(topology: LoopbackTopology): string {
  const url = topology.gatewayUrl ?? topology.apiUrls[0] ?? '';
  const auth = `Authorization: Bearer ${topology.apiToken}`;
  const pids = [...topology.processes().entries()].map(([name, p]) => `${name} ${p.pid}`).join(', ');
  const master = topology.spec.redis.initialMaster;
  const masterPid = topology.processes().get(master.name)?.pid ?? '?';
  const admin = topology.secrets.redisPasswords.admin;
  return [
    '',
    `Evergreen Stores is running on loopback.`,
    `  gateway (nginx):  ${url}`,
    `  API instances:    ${topology.apiUrls.join('  ')}`,
    `  API token:        ${topology.apiToken}`,
    `  Redis master:     ${master.hostPort} (Sentinel group "${topology.masterName}" on ${topology.sentinels.map((s) => s.port).join(', ')})`,
    `  Redis admin:      redis-cli -p ${master.port} --user admin --pass ${admin} --no-auth-warning`,
    `  processes:        ${pids}`,
    `  see a failover:   kill ${masterPid}   (the Sentinels promote a replica; the API rides through)`,
    `  work dir, logs:   ${topology.workDir} (logs in ${topology.logDir})`,
    '',
    'Try:',
    `  curl -s -H '${auth}' ${url}/v1/products`,
    `  curl -s -H '${auth}' -H 'Content-Type: application/json' \\`,
    `       -d '{"name":"Fern","priceCents":1299,"stock":5}' ${url}/v1/products`,
    `  curl -s ${url}/openapi.json`,
    '',
    'Press Ctrl-C to stop everything.',
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  let options: DevOptions;
  try {
    options = parseDevOptions(process.argv.slice(2), process.env);
  } catch (error) {
    const message = (error as Error).message;
    if (message === USAGE) {
      console.log(USAGE); // --help
      process.exit(0);
    }
    console.error(message);
    process.exit(2);
  }
  if (options.keep) process.env.EVERGREEN_KEEP_WORKDIR = '1';
  // From here on, Ctrl-C / SIGTERM stop whatever has been started so far, then exit.
  installExitHooks();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      console.log(`\n${signal}: stopping every process…`);
      process.once('exit', () => console.log(`stopped: no process left running, work dir ${options.keep ? 'kept (--keep)' : 'removed'}.`));
    });
  }
  console.log(`starting Redis, Sentinels, ${options.apiInstances} API instances and nginx on 127.0.0.1 …`);
  const props: LoopbackTopologyProps = {
    gatewayPort: options.port,
    apiInstances: options.apiInstances,
    redisReplicas: options.replicas,
    sentinels: options.sentinels,
    // A person runs this: Sentinel timing as deployed, not the quicker tuning of the tests.
    ...DEPLOYED_SENTINEL_TIMING,
  };
  const topology = await startLoopbackTopology(props);
  console.log(describeTopology(topology));
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(`npm run dev failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
}
