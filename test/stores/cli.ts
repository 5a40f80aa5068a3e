/**
 * One test store as a command, for what runs outside jest (a bench, a manual check):
 *   node dist/test/stores/cli.js s3|gcs|registry [--host <addr>] [--parent-dir <dir>]
 * prints one JSON line (the store's endpoint or address, and for s3 its random root credentials,
 * which exist only as long as this store), then serves until SIGINT/SIGTERM/SIGHUP, and stops it.
 * If this process is killed outright, the store's guard stops it (process.ts).
 */
import { parseArgs } from 'node:util';

import { startFakeGcs } from './gcs.js';
import { startRegistry } from './registry.js';
import { startS3 } from './s3.js';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { host: { type: 'string' }, 'parent-dir': { type: 'string' } },
});
const options = { host: values.host, parentDir: values['parent-dir'] };

async function start(kind: string | undefined): Promise<{ describe: object; stop(): Promise<void> }> {
  switch (kind) {
    case 's3': {
      const s3 = await startS3(options);
      return { describe: { endpoint: s3.endpoint, region: s3.region, credentials: s3.rootCredentials }, stop: s3.stop };
    }
    case 'gcs': {
      const gcs = await startFakeGcs(options);
      return { describe: { endpoint: gcs.endpoint }, stop: gcs.stop };
    }
    case 'registry': {
      const registry = await startRegistry(options);
      return { describe: { address: registry.address }, stop: registry.stop };
    }
    default:
      throw new Error(`usage: cli.js s3|gcs|registry [--host <addr>] [--parent-dir <dir>] (got ${kind ?? 'nothing'})`);
  }
}

const store = await start(positionals[0]);
console.log(JSON.stringify(store.describe));
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
  process.once(signal, () => void store.stop().then(() => process.exit(0)));
// Serve until a signal: nothing else keeps this process alive (the store's handles are unref'd).
setInterval(() => undefined, 1 << 30);
