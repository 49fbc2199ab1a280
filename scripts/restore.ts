/**
 * `npm run restore -- FILE.rdb [--stack NAME]`: loads a snapshot of `npm run backup` into the deployed
 * stack, replacing its Redis data.
 *
 * Downtime: the API containers are stopped while the master loads the snapshot and the replicas
 * resynchronise (the Sentinels keep running); nginx answers 503 meanwhile. It prints how long that took. A
 * failure or a Ctrl-C starts again whatever it had stopped. See docs/deploy.md; the work is done by
 * infra/ops/redis-ops.ts `restoreRedis`.
 */
import { existsSync, statSync } from 'node:fs';
import { parseArgs } from 'node:util';

import { connectDocker } from '../infra/ops/docker';
import { restoreRedis } from '../infra/ops/redis-ops';

const USAGE = 'usage: npm run restore -- FILE.rdb [--stack NAME]   (FILE: an .rdb written by npm run backup)';

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    options: { stack: { type: 'string', default: 'evergreen' }, help: { type: 'boolean' } },
    allowPositionals: true,
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const [file, ...extra] = positionals;
  if (!file || extra.length > 0) throw new Error(`one snapshot file is needed; ${USAGE}`);
  if (!file.endsWith('.rdb') || !existsSync(file) || !statSync(file).isFile()) {
    throw new Error(`${file} is not an .rdb file written by npm run backup; ${USAGE}`);
  }
  const docker = await connectDocker();
  // Ctrl-C (or a hang-up) while containers are stopped: end the wait, start them again, then exit — not leave the
  // store down. A second one exits at once.
  const interrupt = new AbortController();
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      if (interrupt.signal.aborted) process.exit(130);
      console.error(`${signal}: stopping the restore; starting again what it stopped (again to exit at once)`);
      interrupt.abort();
    });
  }
  const result = await restoreRedis(docker, { stack: values.stack, rdbFile: file, log: (line) => console.log(line), signal: interrupt.signal });
  console.log(`restored ${result.keys} keys into ${result.master}; the store was unavailable for ${(result.downtimeMs / 1000).toFixed(1)} s`);
}

main().catch((error: unknown) => {
  console.error(`restore failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
