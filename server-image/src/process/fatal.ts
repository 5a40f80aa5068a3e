/**
 * How a server process ends when it must not go on: a log line, the termination message Kubernetes
 * shows for the container, and a non-zero exit.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { Logger } from '../../../common/log.js';
import { formatModelFailure } from '../../../contract/model-source.js';
import { ModelLoadError, ModelVerificationError } from '../dataplane/types.js';

/** Start the container's termination message afresh: called once, by its first process. */
export function clearTerminationMessage(path: string): void {
  try {
    if (readFileSync(path).length > 0) writeFileSync(path, '');
  } catch {
    // Missing or not writable (a local run): nothing to clear.
  }
}

/**
 * Kubernetes shows this file's content as the container's termination message (max 4 KiB). The
 * first message is kept: in a group, what fails after the first failure is its consequence.
 */
export function writeTerminationMessage(path: string, message: string, log: Logger): void {
  try {
    let previous = '';
    try {
      previous = readFileSync(path, 'utf8');
    } catch {
      // No message yet.
    }
    if (previous !== '') return;
    writeFileSync(path, message.slice(0, 4096));
  } catch (err) {
    log.debug('termination log not writable', { path, error: (err as Error).message });
  }
}

/**
 * The termination message for a failure: `<msg>: <error>`, or, when the model could not be fetched
 * or verified, `<reason>: <error>` (contract/model-source.ts formatModelFailure), which the operator
 * reads back into the ModelDeployment's status.
 */
export function terminationMessage(msg: string, err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof ModelVerificationError) return formatModelFailure('ModelVerificationFailed', message);
  if (err instanceof ModelLoadError && err.reason !== undefined) return formatModelFailure(err.reason, message);
  return `${msg}: ${message}`;
}

/** Log `msg` with the error, leave it as the termination message, and exit 1. */
export function die(terminationLogPath: string, log: Logger, msg: string, err: unknown): never {
  const message = err instanceof Error ? err.message : String(err);
  const reason = err instanceof ModelLoadError ? err.reason : undefined;
  log.error(msg, { error: message, ...(reason === undefined ? {} : { reason }) });
  writeTerminationMessage(terminationLogPath, terminationMessage(msg, err), log);
  process.exit(1);
}
