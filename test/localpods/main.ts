/**
 * `node dist/test/localpods/main.js --kubeconfig .state/cluster/kubeconfig --mount /models=examples/models`
 *
 * Runs the local pod runner until SIGINT/SIGTERM, then stops every child it started.
 * Flags: --kubeconfig, --mount /container/path=host/path (repeatable), --namespace, --image REPO
 * (repeatable), --state-dir.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { loadKubeConfig } from '../../operator/src/kube/client.js';
import { repoRoot } from '../cluster/cluster.js';
import { DEFAULT_SERVER_REPOSITORIES, parseMount } from './podspec.js';
import { PodRunner } from './runner.js';

/** Prints a timestamped line on stdout. */
export function logLine(message: string): void {
  process.stdout.write(`${new Date().toISOString()} localpods: ${message}\n`);
}

/** A runner configured from command-line flags (not started yet). */
export function runnerFromArgs(argv: string[]): PodRunner {
  const { values } = parseArgs({
    args: argv,
    options: {
      kubeconfig: { type: 'string' },
      mount: { type: 'string', multiple: true },
      image: { type: 'string', multiple: true },
      'state-dir': { type: 'string' },
      namespace: { type: 'string' },
    },
    strict: true,
  });
  const root = repoRoot();
  return new PodRunner({
    kc: loadKubeConfig(values.kubeconfig ?? join(root, '.state/cluster/kubeconfig')),
    root,
    stateDir: values['state-dir'] ?? join(root, '.state/localpods'),
    mounts: (values.mount ?? []).map((m) => parseMount(m, root)),
    repositories: values.image ?? DEFAULT_SERVER_REPOSITORIES,
    namespace: values.namespace,
    log: logLine,
  });
}

/** Stops runner once on the first SIGINT/SIGTERM, then exits. */
export function stopOnSignals(stop: () => Promise<void>): void {
  let stopping = false;
  const onSignal = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logLine(`${signal}: stopping`);
    stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logLine(`stop: ${err instanceof Error ? err.message : String(err)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

if (process.argv[1]?.endsWith('localpods/main.js')) {
  try {
    const runner = runnerFromArgs(process.argv.slice(2));
    // Handlers first: a signal during start must still stop the children started so far.
    stopOnSignals(() => runner.stop());
    runner.start().catch((err: unknown) => {
      logLine(`start: ${err instanceof Error ? err.message : String(err)}`);
      void runner.stop().finally(() => process.exit(1));
    });
  } catch (err) {
    logLine(`start: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(2);
  }
}
