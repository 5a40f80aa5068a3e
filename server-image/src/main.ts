/**
 * Entry point of the Modelship image. MODELSHIP_MODE picks the role: `server` (default) serves one
 * model; `router` splits traffic between revisions; `cache` is a node's model cache agent (each
 * loaded only in its mode).
 *
 * A server with `processes` > 1 starts as the group's primary (process/primary.ts), which forks
 * this same script as its serving processes (process/serve.ts); with 1 it is a serving process on
 * its own.
 */
import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { CACHE_MODE, MODE_ENV, ROUTER_MODE } from '../../contract/env.js';
import { ConfigError } from '../../contract/settings.js';
import { parseConfig, usableCpus, usage, type Config } from './config.js';
import { createLogger } from '../../common/log.js';
import { servedProfile } from './model/profile.js';
import { die } from './process/fatal.js';
import { joinGroup } from './process/group.js';
import { runPrimary } from './process/primary.js';
import { runServer } from './process/serve.js';

/** The cgroup v2 CPU quota of this container, if there is one to read. */
function readCgroupCpuMax(): string | undefined {
  try {
    return readFileSync('/sys/fs/cgroup/cpu.max', 'utf8');
  } catch {
    return undefined;
  }
}

async function main(): Promise<void> {
  const mode = process.env[MODE_ENV] ?? 'server';
  if (mode === ROUTER_MODE) {
    // Imported only in this mode: a server never loads the router or the Kubernetes client.
    const { runRouter } = await import('./router/main.js');
    try {
      await runRouter();
    } catch (err) {
      process.stderr.write(`modelship router: ${(err as Error).message}\n`);
      process.exit(1);
    }
    return;
  }
  if (mode === CACHE_MODE) {
    const { runCache } = await import('./cache/main.js');
    try {
      await runCache();
    } catch (err) {
      process.stderr.write(`modelship cache: ${(err as Error).message}\n`);
      process.exit(1);
    }
    return;
  }
  if (mode !== 'server') {
    process.stderr.write(
      `modelship: invalid ${MODE_ENV}=${JSON.stringify(mode)}: expected server, ${ROUTER_MODE} or ${CACHE_MODE}\n`,
    );
    process.exit(2);
  }
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(usage() + '\n');
    return;
  }
  let config: Config;
  try {
    config = parseConfig(argv, process.env, usableCpus(availableParallelism(), readCgroupCpuMax()));
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`modelship: invalid configuration: ${err.message}\n`);
    process.exit(2);
  }
  // The drift profile is loaded by each process that serves HTTP; one that cannot be verified ends
  // the process as a model that cannot be does.
  if (config.profileUri && (cluster.isWorker || config.processes === 1)) {
    const log = createLogger(config.logLevel);
    servedProfile
      .load({ ...config, profileUri: config.profileUri }, log)
      .catch((err: unknown) => die(config.terminationLogPath, log, 'profile load failed', err));
  }
  if (cluster.isWorker) await runServer(config, joinGroup());
  else if (config.processes > 1) await runPrimary(config);
  else await runServer(config);
}

await main();
