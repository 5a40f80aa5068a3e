#!/usr/bin/env node
/**
 * The `modelship` command line.
 * - `modelship validate <files...>` checks ModelDeployment manifests against the CRD offline (for
 *   GitOps pipelines, before anything is applied) and exits 1 when any is invalid; `-` reads stdin.
 * - `modelship promote|abort|rollback|retry <name>` requests a one-shot rollout action by writing
 *   the modelship.dev/action annotation (a merge patch of that one annotation, nothing else).
 */
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Registry } from 'prom-client';
import { validateManifest } from './api/manifests.js';
import { GROUP, PLURAL, VERSION } from './api/types.js';
import { KubeClient, loadKubeConfig } from './kube/client.js';
import { ACTION_ANNOTATION, actionValue, type ActionVerb } from './rollout/canary-action.js';

const USAGE = `usage: modelship <command> [args]

commands:
  validate <file|-> [...]      check ModelDeployment manifests against the CRD; exit 1 if any is invalid
  promote <name> [options]     promote the candidate now (skip the remaining steps)
  abort <name> [options]       stop the rollout: the candidate gets weight 0, the stable serves
  rollback <name> [options]    return to the previous revision (also right after a promotion)
  retry <name> [options]       start a rolled-back candidate's rollout again
  help                         show this help

options of promote, abort, rollback and retry:
  -n, --namespace <ns>         namespace (default: the kubeconfig context's, else "default")
  --revision <rev>             act only if this is the revision concerned (guards against a newer candidate)
  --kubeconfig <file>          kubeconfig to use (default: $KUBECONFIG, ~/.kube/config, in-cluster)`;

const VERBS: readonly ActionVerb[] = ['promote', 'abort', 'rollback', 'retry'];

/** Where output goes; injectable for tests. */
export interface Io {
  out: (line: string) => void;
  err: (line: string) => void;
}

/** Run the validate command; returns the exit code. */
export function validateCommand(files: string[], io: Io): number {
  if (files.length === 0) {
    io.err('modelship validate: give at least one file (or - for standard input)');
    return 2;
  }
  let failed = false;
  let checked = 0;
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file === '-' ? 0 : file, 'utf8');
    } catch (e) {
      io.err(`${file}: read: ${(e as Error).message}`);
      failed = true;
      continue;
    }
    const report = validateManifest(file === '-' ? '<stdin>' : file, text);
    checked += report.checked;
    for (const line of report.lines) (report.ok ? io.out : io.err)(line);
    failed ||= !report.ok;
  }
  if (!failed && checked === 0) {
    io.err('modelship validate: no ModelDeployment found in the given files');
    return 1;
  }
  return failed ? 1 : 0;
}

/** A parsed action command line. */
export interface ActionRequest {
  verb: ActionVerb;
  name: string;
  namespace?: string;
  revision?: string;
  kubeconfig?: string;
}

/** Parse `<name> [-n ns] [--revision rev] [--kubeconfig file]` for an action verb. */
export function parseActionArgs(verb: ActionVerb, args: string[]): ActionRequest | { error: string } {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        namespace: { type: 'string', short: 'n' },
        revision: { type: 'string' },
        kubeconfig: { type: 'string' },
      },
    });
  } catch (e) {
    return { error: `modelship ${verb}: ${(e as Error).message}` };
  }
  if (parsed.positionals.length !== 1) return { error: `modelship ${verb}: give exactly one ModelDeployment name` };
  const { namespace, revision, kubeconfig } = parsed.values;
  if (revision !== undefined && !/^[0-9a-f]{10}$/.test(revision)) {
    return {
      error: `modelship ${verb}: --revision must be a revision hash (10 lowercase hex characters), got "${revision}"`,
    };
  }
  const request: ActionRequest = { verb, name: parsed.positionals[0]! };
  if (namespace !== undefined) request.namespace = namespace;
  if (revision !== undefined) request.revision = revision;
  if (kubeconfig !== undefined) request.kubeconfig = kubeconfig;
  return request;
}

/** The merge patch that requests an action: the annotation and nothing else. */
export function actionPatch(request: ActionRequest, now: Date): { metadata: { annotations: Record<string, string> } } {
  return { metadata: { annotations: { [ACTION_ANNOTATION]: actionValue(request.verb, now, request.revision) } } };
}

/** Write the action annotation on the API server; returns the exit code. */
async function actionCommand(verb: ActionVerb, args: string[], io: Io): Promise<number> {
  const request = parseActionArgs(verb, args);
  if ('error' in request) {
    io.err(request.error);
    return 2;
  }
  const where = `ModelDeployment ${request.namespace ?? '(context namespace)'}/${request.name}`;
  try {
    const kc = loadKubeConfig(request.kubeconfig);
    const namespace = request.namespace ?? kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'default';
    const client = await KubeClient.create(kc, new Registry());
    const patch = actionPatch(request, new Date());
    await client.request({
      method: 'PATCH',
      path: `/apis/${GROUP}/${VERSION}/namespaces/${encodeURIComponent(namespace)}/${PLURAL}/${encodeURIComponent(request.name)}`,
      body: patch,
      contentType: 'application/merge-patch+json',
    });
    io.out(
      `${verb} requested on ModelDeployment ${namespace}/${request.name}: ${ACTION_ANNOTATION}=${patch.metadata.annotations[ACTION_ANNOTATION]}`,
    );
    return 0;
  } catch (e) {
    io.err(`${verb} ${where}: ${(e as Error).message}`);
    return 1;
  }
}

/** Dispatch argv (without node and script) to a command; resolves to the exit code. */
export async function main(argv: string[], io: Io): Promise<number> {
  const [command, ...rest] = argv;
  if (command === 'validate') return validateCommand(rest, io);
  if ((VERBS as readonly string[]).includes(command ?? '')) return actionCommand(command as ActionVerb, rest, io);
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
