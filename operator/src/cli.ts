#!/usr/bin/env node
/**
 * The `modelship` command line:
 * - `modelship validate <files...>` checks ModelDeployment manifests against the CRD offline;
 * - `modelship status <md> [--watch]` shows a rollout at a glance;
 * - `modelship promote|abort|rollback|retry <md>` requests a one-shot rollout action and waits
 *   for the operator's verdict.
 * Each command's module is imported only when that command runs: validate's schema compiler is
 * no cost to status, and no command loads @kubernetes/client-node unless its kubeconfig needs it.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Io } from './cli/args.js';

const USAGE = `usage: modelship <command> [args]

commands:
  validate <file|-> [...]      check ModelDeployment manifests against the CRD; exit 1 if any is invalid
  status <name> [options]      show the revisions, weights, step, analysis, decision, conditions and history
  promote <name> [options]     promote the candidate now (skip the remaining steps)
  abort <name> [options]       stop the rollout: the candidate gets weight 0, the stable serves
  rollback <name> [options]    return to the previous revision (also right after a promotion)
  retry <name> [options]       start a rolled-back candidate's rollout again
  help                         show this help

options of status and the actions:
  -n, --namespace <ns>         namespace (default: the kubeconfig context's, else "default")
  --kubeconfig <file>          kubeconfig to use (default: $KUBECONFIG, ~/.kube/config, in-cluster)
options of status:
  -w, --watch                  follow the rollout, redrawing on each change (until Ctrl-C)
options of promote, abort, rollback and retry:
  --revision <rev>             act only if this is the revision concerned (guards against a newer candidate)
  --timeout <duration>         how long to wait for the operator's verdict (default 60s; e.g. 90s, 2m)
  --no-wait                    write the annotation and exit without waiting

exit codes: 0 done, 1 failed (API error, no verdict in time), 2 bad arguments,
            3 the operator refused or ignored the action (its reason is printed)`;

const VERBS = ['promote', 'abort', 'rollback', 'retry'] as const;

/** Dispatch argv (without node and script) to a command; resolves to the exit code. */
export async function main(argv: string[], io: Io): Promise<number> {
  const [command, ...rest] = argv;
  if (command === 'validate') return (await import('./cli/validate.js')).validateCommand(rest, io);
  if (command === 'status') {
    const { statusCommand, stdoutScreen } = await import('./cli/status.js');
    return statusCommand(rest, io, stdoutScreen());
  }
  const verb = VERBS.find((v) => v === command);
  if (verb !== undefined) return (await import('./cli/action.js')).actionCommand(verb, rest, io);
  if (command === 'help' || command === '--help' || command === '-h') {
    io.out(USAGE);
    return 0;
  }
  io.err(command === undefined ? USAGE : `modelship: unknown command "${command}"\n${USAGE}`);
  return 2;
}

/** True when this module is the process entry point (directly or through an npm bin link). */
function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  const io: Io = {
    out: (line) => void process.stdout.write(`${line}\n`),
    err: (line) => void process.stderr.write(`${line}\n`),
  };
  process.exitCode = await main(process.argv.slice(2), io);
}
