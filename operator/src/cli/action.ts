/**
 * `modelship promote|abort|rollback|retry <md>`: writes the action annotation, then waits for the
 * operator's verdict (see verdict.ts): exit 0 when it carried the action out, 3 when it refused
 * or ignored it (with its reason), 1 when no verdict came in time or the API failed.
 */
import type { ModelDeployment } from '../api/types.js';
import { eventsAbout, followModelDeployment, patchAction, type CliApi } from '../kube/cli-api.js';
import { actionValue } from '../rollout/canary-action.js';
import { parseActionArgs, type ActionRequest, type Io } from './args.js';
import { againstCluster } from './session.js';
import {
  actionProgress,
  outcomeReport,
  verdictOf,
  type ActionEvent,
  type ActionProgress,
  type Outcome,
} from './verdict.js';

/** How often the Events are read while the status says handled and the verdict Event is not there yet. */
const EVENT_POLL_MS = 200;

/**
 * How long the verdict Event may lag the status that says handled: the operator records it right
 * after, so longer means it failed to (it logs why) and waiting out the whole timeout tells nothing more.
 */
const EVENT_LAG_MS = 10_000;

/** Runs an action command; resolves to the exit code. */
export async function actionCommand(verb: ActionRequest['verb'], args: string[], io: Io): Promise<number> {
  const request = parseActionArgs(verb, args);
  if ('error' in request) {
    io.err(request.error);
    return 2;
  }
  return againstCluster(verb, request, io, async (cli, where) => {
    const value = actionValue(verb, new Date(), request.revision);
    const patched = await patchAction(cli, request.name, value);
    if (request.timeoutMs === 0) {
      io.out(`${verb} requested on ${where}: modelship.dev/action=${value}`);
      return 0;
    }
    io.err(`${verb} requested on ${where} (${value}); waiting for the operator…`);
    const outcome = await awaitVerdict(cli, request.name, patched.metadata.uid ?? '', value, request.timeoutMs);
    const said = outcomeReport(outcome, `${verb} ${where}`, request.timeoutMs);
    (said.code === 0 ? io.out : io.err)(said.line);
    return said.code;
  });
}

/**
 * Waits until the operator has handled `value` (the watch sees status.lastAction equal to it),
 * then for its Event; or until the action is superseded, the object deleted, or the time is up.
 */
async function awaitVerdict(
  cli: CliApi,
  name: string,
  uid: string,
  value: string,
  timeoutMs: number,
): Promise<Outcome> {
  const deadline = Date.now() + timeoutMs;
  const stop = new AbortController();
  const timer = setTimeout(() => stop.abort(), timeoutMs);
  let last: ModelDeployment | undefined;
  let settled = { state: 'pending' } as ActionProgress;
  let failure: unknown;
  try {
    await followModelDeployment(
      cli,
      name,
      (md) => {
        last = md;
        const progress = actionProgress(md, value);
        if (progress.state !== 'pending') {
          settled = progress;
          stop.abort();
        }
      },
      (err) => void (failure = err),
      stop.signal,
    );
    if (settled.state === 'pending') return failure === undefined ? { timedOut: last } : { timedOut: last, failure };
    if (settled.state !== 'handled') return { progress: settled };
    const giveUp = Math.min(deadline, Date.now() + EVENT_LAG_MS);
    for (;;) {
      const verdict = verdictOf(await eventsAbout<ActionEvent>(cli, uid), uid, value);
      if (verdict) return { verdict };
      if (Date.now() + EVENT_POLL_MS > giveUp) return { progress: settled };
      await new Promise((resolve) => setTimeout(resolve, EVENT_POLL_MS));
    }
  } finally {
    clearTimeout(timer);
  }
}
