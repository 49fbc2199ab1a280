/**
 * `npm run backup -- --out DIR [--stack NAME]`: a snapshot of the deployed stack's Redis data.
 *
 * Asks the Sentinels which node is the master, has it write an RDB snapshot and rewrite its AOF, and
 * copies both to DIR as `<stack>-<instance>-<UTC time>.rdb` and `….aof.tar`. The stack keeps serving.
 * Runs on the Docker host (or with DOCKER_HOST); see docs/deploy.md. The work is done by
 * infra/ops/redis-ops.ts `backupRedis`.
 */
import { parseArgs } from 'node:util';

import { connectDocker } from '../infra/ops/docker';
import { backupRedis } from '../infra/ops/redis-ops';

const USAGE = 'usage: npm run backup -- --out DIR [--stack NAME]   (NAME: the stack setting `name`, default evergreen)';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { out: { type: 'string' }, stack: { type: 'string', default: 'evergreen' }, help: { type: 'boolean' } },
    allowPositionals: false,
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (!values.out) throw new Error(`--out DIR is required; ${USAGE}`);
  const docker = await connectDocker();
  const result = await backupRedis(docker, { stack: values.stack, outDir: values.out });
  console.log(`backed up ${result.keys} keys from ${result.master}:`);
  const stackArg = values.stack === 'evergreen' ? '' : ` --stack ${values.stack}`;
  console.log(`  ${result.rdbFile}   (restore with: npm run restore -- ${result.rdbFile}${stackArg})`);
  console.log(`  ${result.aofArchive}`);
}

main().catch((error: unknown) => {
  console.error(`backup failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
