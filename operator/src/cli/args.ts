/**
 * The command lines of `modelship status` and of the actions, parsed without touching anything:
 * a parsed request, or the message to print with exit code 2.
 */
import { parseArgs } from 'node:util';
import type { ActionVerb } from '../rollout/canary-action.js';

/** Where output goes; injectable for tests. */
export interface Io {
  out: (line: string) => void;
  err: (line: string) => void;
}

/** What every command that reads the cluster takes. */
export interface Target {
  name: string;
  namespace?: string;
  kubeconfig?: string;
}

/** A parsed action command line. */
export interface ActionRequest extends Target {
  verb: ActionVerb;
  revision?: string;
  /** How long to wait for the operator's verdict; 0 with --no-wait (write the annotation and exit). */
  timeoutMs: number;
}

/** A parsed `status` command line. */
export interface StatusRequest extends Target {
  watch: boolean;
}

/** How long an action waits for the operator's verdict unless --timeout says otherwise. */
export const DEFAULT_TIMEOUT_MS = 60_000;

const TARGET_OPTIONS = {
  namespace: { type: 'string', short: 'n' },
  kubeconfig: { type: 'string' },
} as const;

/** Parse `<name> [-n ns] [--revision rev] [--timeout d] [--no-wait] [--kubeconfig file]` for an action verb. */
export function parseActionArgs(verb: ActionVerb, args: string[]): ActionRequest | { error: string } {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        ...TARGET_OPTIONS,
        revision: { type: 'string' },
        timeout: { type: 'string' },
        'no-wait': { type: 'boolean' },
      },
    });
  } catch (e) {
    return { error: `modelship ${verb}: ${(e as Error).message}` };
  }
  const target = targetOf(`modelship ${verb}`, parsed.positionals, parsed.values);
  if ('error' in target) return target;
  const { revision, timeout } = parsed.values;
  if (revision !== undefined && !/^[0-9a-f]{10}$/.test(revision)) {
    return {
      error: `modelship ${verb}: --revision must be a revision hash (10 lowercase hex characters), got "${revision}"`,
    };
  }
  if (parsed.values['no-wait'] && timeout !== undefined) {
    return { error: `modelship ${verb}: --no-wait and --timeout exclude each other` };
  }
  const timeoutMs = timeout === undefined ? DEFAULT_TIMEOUT_MS : parseDuration(timeout);
  if (timeoutMs === undefined || timeoutMs <= 0) {
    return {
      error: `modelship ${verb}: --timeout must be a positive duration such as 90s, 2m or 500ms, got "${timeout}"`,
    };
  }
  const request: ActionRequest = { verb, ...target, timeoutMs: parsed.values['no-wait'] ? 0 : timeoutMs };
  if (revision !== undefined) request.revision = revision;
  return request;
}

/** Parse `<name> [-n ns] [--watch|-w] [--kubeconfig file]` for `modelship status`. */
export function parseStatusArgs(args: string[]): StatusRequest | { error: string } {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: { ...TARGET_OPTIONS, watch: { type: 'boolean', short: 'w' } },
    });
  } catch (e) {
    return { error: `modelship status: ${(e as Error).message}` };
  }
  const target = targetOf('modelship status', parsed.positionals, parsed.values);
  if ('error' in target) return target;
  return { ...target, watch: parsed.values.watch === true };
}

function targetOf(
  command: string,
  positionals: string[],
  values: { namespace?: string; kubeconfig?: string },
): Target | { error: string } {
  if (positionals.length !== 1) return { error: `${command}: give exactly one ModelDeployment name` };
  const target: Target = { name: positionals[0]! };
  if (values.namespace !== undefined) target.namespace = values.namespace;
  if (values.kubeconfig !== undefined) target.kubeconfig = values.kubeconfig;
  return target;
}

/** Milliseconds of `500ms`, `90s`, `2m`, `1h` or a bare number of seconds; undefined if it is none of these. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) return undefined;
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? 's']!;
  return Math.round(Number(m[1]) * unit);
}
