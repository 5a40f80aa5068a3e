/**
 * Problems visible in the observed pods and Deployments that stop a revision from ever becoming
 * available without a change by a human: bad image, model that fails verification, crash loops,
 * missing volumes, pods that cannot be scheduled, a Deployment past its deadline. All of them are
 * in the objects' own status: a missing PersistentVolumeClaim too, as the scheduler names it in the
 * pod's PodScheduled=False condition, so the operator reads no Events. A missing Secret or ConfigMap
 * volume is the exception: the kubelet says so only in a FailedMount Event, while the pod's status
 * shows nothing but PodReadyToStartContainers=False; once that has lasted as long as the kubelet
 * itself waits for volumes, the pod's Secret and ConfigMap volumes are named. A server that refused its
 * model says why in its termination message (contract formatModelFailure), and that reason
 * (ModelVerificationFailed, ModelNotFound, ModelAccessDenied...) names the problem. Nothing else in a
 * termination message is read as a reason: a container that was killed shows its last log lines there.
 */
import type { V1ContainerStatus, V1Deployment, V1Pod } from '@kubernetes/client-node';
import { parseModelFailure, type FetchFailureReason, type ModelFailureReason } from '../../../contract/model-source.js';
import type { ModelDeployment } from '../api/types.js';
import { LABEL, revisionName } from '../desired/names.js';
import { deploymentNamed, type Observed } from '../observed.js';

/** Stalled reasons, most specific first; the first one found names the condition. */
export const PROBLEM_REASONS = [
  'ModelVerificationFailed',
  // A model fetch that failed (contract FETCH_FAILURE_REASONS): content first, then what the user
  // must fix in the spec or the store, then a store that may recover by itself.
  'ModelDigestMismatch',
  'ModelNotFound',
  'ModelAccessDenied',
  'ModelSourceInvalid',
  'ModelFetchTimeout',
  'ModelSourceUnavailable',
  'ImagePullFailed',
  'PersistentVolumeClaimNotFound',
  'VolumeMountFailed',
  'ContainerConfigError',
  'CrashLoopBackOff',
  'Unschedulable',
  'ReplicaFailure',
  'ProgressDeadlineExceeded',
] as const;

/** One of PROBLEM_REASONS. */
export type ProblemReason = (typeof PROBLEM_REASONS)[number];

/**
 * What each fetch failure means, in the words the Stalled condition and its Event carry before the
 * server's own message (which names the URI without credentials and the cause).
 */
export const FETCH_FAILURE_MESSAGES: Record<FetchFailureReason, string> = {
  ModelNotFound: 'the model is not in its store (no such object, bucket, repository or tag)',
  ModelAccessDenied: 'the store refused access (check the Secret named by spec.model.storage.secretRef)',
  ModelDigestMismatch: 'the fetched model is not the one spec.model.sha256 (or the oci:// digest) pins',
  ModelFetchTimeout: 'the fetch ran past its deadline, retries included (spec.model.storage.timeoutSeconds)',
  ModelSourceInvalid: 'spec.model.uri or spec.model.storage cannot be used',
  ModelSourceUnavailable: 'the store kept failing until the retries ran out',
};

/** A problem of one revision, with a one-line message naming the object. */
export interface Problem {
  reason: ProblemReason;
  revision: string;
  message: string;
}

const IMAGE_PULL = new Set(['ImagePullBackOff', 'ErrImagePull', 'InvalidImageName', 'ErrImageNeverPull']);
const CONFIG_ERRORS = new Set(['CreateContainerConfigError', 'CreateContainerError']);
const MISSING_PVC = /persistentvolumeclaim "([^"]+)" not found/i;
const MAX_MESSAGE = 300;
/**
 * How long a scheduled pod may go without its sandbox before its volumes are reported: the
 * kubelet's own wait for a pod's volumes (2 min 3 s), after which it gives up that sync. A pod's
 * Secret and ConfigMap volumes mount in well under a second when they exist.
 */
export const VOLUME_MOUNT_WAIT_MS = 123_000;

/**
 * Problems of the given revisions, sorted by severity then revision order, one per reason and
 * revision. `now` dates the one problem that is a wait (VolumeMountFailed).
 */
export function problemsOf(md: ModelDeployment, observed: Observed, revisions: string[], now: Date): Problem[] {
  const found: Problem[] = [];
  revisions.forEach((revision) => {
    const pods = observed.pods
      .filter(
        (p) =>
          p.metadata?.labels?.[LABEL.revision] === revision &&
          p.metadata?.labels?.[LABEL.deployment] === md.metadata.name,
      )
      .sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''));
    for (const pod of pods) found.push(...podProblems(pod, revision, now));
    const deployment = deploymentNamed(observed, revisionName(md, revision));
    if (deployment) found.push(...deploymentProblems(deployment, revision));
  });
  const unique: Problem[] = [];
  for (const p of found) {
    if (!unique.some((u) => u.reason === p.reason && u.revision === p.revision)) unique.push(p);
  }
  return unique.sort(
    (a, b) =>
      PROBLEM_REASONS.indexOf(a.reason) - PROBLEM_REASONS.indexOf(b.reason) ||
      revisions.indexOf(a.revision) - revisions.indexOf(b.revision),
  );
}

/** What a server's termination message says of its model, after the container's name. */
function refusal(failure: { reason: ModelFailureReason; message: string }): string {
  if (failure.reason === 'ModelVerificationFailed') return `refused its model: ${failure.message}`;
  return `could not fetch its model: ${FETCH_FAILURE_MESSAGES[failure.reason]}: ${failure.message}`;
}

function podProblems(pod: V1Pod, revision: string, now: Date): Problem[] {
  const where = `pod ${pod.metadata?.namespace}/${pod.metadata?.name}`;
  const out: Problem[] = [];
  const statuses: V1ContainerStatus[] = [
    ...(pod.status?.initContainerStatuses ?? []),
    ...(pod.status?.containerStatuses ?? []),
  ];
  for (const cs of statuses) {
    const container = `${where} container ${cs.name}`;
    const waiting = cs.state?.waiting;
    const terminated = cs.state?.terminated ?? cs.lastState?.terminated;
    const said = terminated && terminated.exitCode !== 0 ? terminated.message?.trim() : undefined;
    const termination = said ? withoutUserinfo(said) : undefined;
    const refused = termination ? parseModelFailure(termination) : undefined;
    if (refused) {
      out.push({ reason: refused.reason, revision, message: clip(`${container} ${refusal(refused)}`) });
    } else if (waiting?.reason && IMAGE_PULL.has(waiting.reason)) {
      out.push({
        reason: 'ImagePullFailed',
        revision,
        message: clip(`${container}: ${waiting.reason} for image ${cs.image}: ${waiting.message ?? ''}`),
      });
    } else if (waiting?.reason && CONFIG_ERRORS.has(waiting.reason)) {
      out.push({
        reason: 'ContainerConfigError',
        revision,
        message: clip(`${container}: ${waiting.message ?? waiting.reason}`),
      });
    } else if (waiting?.reason === 'CrashLoopBackOff') {
      const exit = `exit code ${terminated?.exitCode ?? 'unknown'} (${terminated?.reason ?? 'no termination message'})`;
      const why = termination === undefined ? exit : `${exit}: ${termination}`;
      out.push({ reason: 'CrashLoopBackOff', revision, message: clip(`${container} keeps crashing: ${why}`) });
    }
  }
  const scheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
  const missingClaim = scheduled?.status === 'False' ? MISSING_PVC.exec(scheduled.message ?? '')?.[1] : undefined;
  if (missingClaim !== undefined) {
    out.push({
      reason: 'PersistentVolumeClaimNotFound',
      revision,
      message: clip(`${where}: PersistentVolumeClaim ${pod.metadata?.namespace}/${missingClaim} not found`),
    });
  } else if (scheduled?.status === 'False' && scheduled.reason === 'Unschedulable') {
    out.push({
      reason: 'Unschedulable',
      revision,
      message: clip(`${where} cannot be scheduled: ${scheduled.message ?? ''}`),
    });
  }
  const unmounted = unmountedVolumesProblem(pod, now);
  if (unmounted !== undefined)
    out.push({ reason: 'VolumeMountFailed', revision, message: clip(`${where} ${unmounted}`) });
  return out;
}

/**
 * Why a scheduled pod has had no sandbox for VOLUME_MOUNT_WAIT_MS, when it mounts Secrets or
 * ConfigMaps (credentials, CA bundle, auth token, public key), which are then most likely missing:
 * the kubelet names the one in a FailedMount Event only. Undefined otherwise (a pod without such
 * volumes, a cluster that does not report PodReadyToStartContainers).
 */
function unmountedVolumesProblem(pod: V1Pod, now: Date): string | undefined {
  const waiting = volumeWait(pod, now);
  if (waiting === undefined || waiting.waitedMs < VOLUME_MOUNT_WAIT_MS) return undefined;
  const { sources } = waiting;
  return (
    // No running count of seconds: the message must stay the same from one reconcile to the next,
    // or every reconcile would write status (and the write would trigger the next reconcile).
    `has not started in the ${VOLUME_MOUNT_WAIT_MS / 1000}s the kubelet waits for volumes: they are not mounted, ` +
    `most likely because ${sources.length === 1 ? sources[0] : `one of ${sources.join(', ')}`} does not exist ` +
    '(kubectl describe pod shows FailedMount)'
  );
}

/**
 * How long a scheduled pod that mounts Secrets or ConfigMaps has waited for its sandbox, and those
 * volumes' sources; undefined for a pod that is not waiting so (or mounts none).
 */
function volumeWait(pod: V1Pod, now: Date): { waitedMs: number; sources: string[] } | undefined {
  const sandbox = pod.status?.conditions?.find((c) => c.type === 'PodReadyToStartContainers');
  if (sandbox?.status !== 'False' || sandbox.lastTransitionTime === undefined) return undefined;
  const waitedMs = now.getTime() - new Date(sandbox.lastTransitionTime).getTime();
  const ns = pod.metadata?.namespace;
  const sources = (pod.spec?.volumes ?? []).flatMap((v) =>
    v.secret?.secretName !== undefined
      ? [`Secret ${ns}/${v.secret.secretName}`]
      : v.configMap?.name !== undefined
        ? [`ConfigMap ${ns}/${v.configMap.name}`]
        : [],
  );
  return Number.isFinite(waitedMs) && sources.length > 0 ? { waitedMs, sources } : undefined;
}

/**
 * Seconds until the first observed pod still waiting for its Secret or ConfigMap volumes reaches
 * VOLUME_MOUNT_WAIT_MS, so the reconcile comes back then: such a pod's status does not change
 * while it waits, so no watch event would bring the reconcile that reports it.
 */
export function volumeWaitEndsInSeconds(observed: Observed, now: Date): number | undefined {
  const remaining = observed.pods.flatMap((pod) => {
    const waiting = volumeWait(pod, now);
    return waiting !== undefined && waiting.waitedMs < VOLUME_MOUNT_WAIT_MS
      ? [Math.ceil((VOLUME_MOUNT_WAIT_MS - waiting.waitedMs) / 1000)]
      : [];
  });
  return remaining.length > 0 ? Math.min(...remaining) : undefined;
}

function deploymentProblems(deployment: V1Deployment, revision: string): Problem[] {
  const where = `Deployment ${deployment.metadata?.namespace}/${deployment.metadata?.name}`;
  const out: Problem[] = [];
  for (const c of deployment.status?.conditions ?? []) {
    if (c.type === 'ReplicaFailure' && c.status === 'True') {
      out.push({
        reason: 'ReplicaFailure',
        revision,
        message: clip(`${where}: ${c.message ?? c.reason ?? 'cannot create pods'}`),
      });
    }
    if (c.type === 'Progressing' && c.status === 'False' && c.reason === 'ProgressDeadlineExceeded') {
      out.push({
        reason: 'ProgressDeadlineExceeded',
        revision,
        message: clip(`${where}: ${c.message ?? 'progress deadline exceeded'}`),
      });
    }
  }
  return out;
}

/**
 * The text with any `user:password@` of a URL removed. The server already names URIs without
 * credentials (and the CRD refuses them): this keeps a credential out of status and Events even
 * from a server that did not.
 */
function withoutUserinfo(text: string): string {
  return text.replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^/\s@]*@/gi, '$1');
}

/**
 * One line of at most MAX_MESSAGE characters. A long message loses its middle, not its end: the
 * start says what failed and where, and kubelet and runtime messages put the cause last
 * (`failed to resolve reference "…": …: not found`).
 */
function clip(message: string): string {
  const oneLine = message.replace(/\s+/g, ' ').trim();
  if (oneLine.length <= MAX_MESSAGE) return oneLine;
  const head = Math.floor(((MAX_MESSAGE - 1) * 2) / 3);
  const tail = MAX_MESSAGE - 1 - head;
  return `${oneLine.slice(0, head)}…${oneLine.slice(-tail)}`;
}
