/**
 * What the canary state machine decides from, read out of one reconcile's snapshot: the router's
 * stats (parsed once, for the contract gate and, when a check is due, the analysis of the window
 * since the last check), the candidate's Deployment and problems, the canary's memory in
 * status.canary, and the action annotation. Reading is all this does; nextCanary decides.
 */
import type { ModelDeployment } from '../api/types.js';
import { revisionName } from '../desired/names.js';
import { configMapNamed, deploymentNamed, type Observed } from '../observed.js';
import { canaryStateOf } from '../status/canary-status.js';
import { problemsOf, type ProblemReason } from '../status/problems.js';
import { routeNameOf, statsConfigMapName } from '../traffic/names.js';
import { parseStatsData } from '../../../contract/stats.js';
import { FETCH_FAILURE_REASONS } from '../../../contract/model-source.js';
import { analyse } from './analysis.js';
import { countsOf, isAvailableAtScale, isDeploymentAvailable } from './availability.js';
import { ACTION_ANNOTATION, pendingAction } from './canary-action.js';
import { checkDue, type CanaryInput, type Progression } from './canary.js';
import { checkContract, modelMetadataOf, type ContractCheck } from './contract.js';

/** The revisions a decision is about. */
export interface CanaryRevisions {
  stable: string;
  /** The revision the spec asks for (the stable itself when nothing rolls out). */
  candidate: string;
  /** The newest retained revision still warm, if any: what a rollback after promotion returns to. */
  retained?: string;
  /**
   * The stable's current replicas: the candidate is sized on its share of them, and must have as
   * many available before it takes 100%.
   */
  stableReplicas: number;
}

/** The state machine's input, and what reading it produced for the shell. */
export interface GatheredInput {
  input: CanaryInput;
  /** Set when a check came due: the stats it read, where the next check's window starts. */
  baseline?: Observed['statsBaseline'];
  /** Router stats documents that could not be read (one broken pod does not stop the analysis). */
  statsErrors: string[];
}

/**
 * Problems that stop a candidate for good, so it is rolled back rather than waited for: the model
 * failed verification or could not be fetched (the server exits, so its pods crash-loop whatever
 * the cause), the server keeps crashing, or the Deployment gave up progressing.
 */
const FATAL_CANDIDATE_PROBLEMS = new Set<ProblemReason>([
  'ModelVerificationFailed',
  ...FETCH_FAILURE_REASONS,
  'CrashLoopBackOff',
  'ProgressDeadlineExceeded',
]);

/** Reads everything one canary decision depends on. Pure: time comes in as `now`. */
export function canaryInputOf(
  md: ModelDeployment,
  observed: Observed,
  now: Date,
  revisions: CanaryRevisions,
): GatheredInput {
  const { stable, candidate } = revisions;
  const progression = progressionOf(md);
  const { documents, errors } = parseStatsData(configMapNamed(observed, statsConfigMapName(md))?.data);
  const routes = { stable: routeNameOf(md, stable), candidate: routeNameOf(md, candidate) };
  const deployment = deploymentNamed(observed, revisionName(md, candidate));
  const input: CanaryInput = {
    spec: md.spec,
    stable,
    candidate,
    progression,
    contract: contractOf(md, progression, documents, routes),
    candidateAvailable: isDeploymentAvailable(deployment),
    candidatePods: {
      available: countsOf(deployment ?? {}).available,
      atFullScale: isAvailableAtScale(deployment, { replicas: revisions.stableReplicas }),
    },
    stableReplicas: revisions.stableReplicas,
    now,
  };
  if (md.spec.rollout?.weight !== undefined) input.fixedWeight = md.spec.rollout.weight;
  if (revisions.retained !== undefined) input.retained = revisions.retained;
  const previous = canaryStateOf(md.status?.canary);
  if (previous !== undefined) input.previous = previous;
  const problem = problemsOf(md, observed, [candidate], now).find((p) => FATAL_CANDIDATE_PROBLEMS.has(p.reason));
  if (problem && candidate !== stable) input.candidateProblem = { reason: problem.reason, message: problem.message };

  const gathered: GatheredInput = { input, statsErrors: errors };
  const checking = progression === 'analysed' && previous?.revision === candidate && candidate !== stable;
  if (checking && checkDue(md.spec, previous, now)) {
    input.check = analyse(
      observed.statsBaseline ?? [],
      documents,
      routes,
      md.spec.rollout?.analysis,
      previous.step < 0,
    );
    gathered.baseline = documents;
  }
  const pending = pendingAction(md.metadata.annotations, md.status?.lastAction);
  if (pending && 'action' in pending) input.action = pending.action;
  else if (pending)
    input.unreadableAction = { raw: md.metadata.annotations?.[ACTION_ANNOTATION]?.trim() ?? '', ...pending };
  return gathered;
}

/** How this ModelDeployment's candidates earn promotion (see {@link Progression}). */
function progressionOf(md: ModelDeployment): Progression {
  if (md.spec.rollout?.strategy === 'Replace') return 'immediate';
  return md.spec.traffic?.router === 'gateway-api' ? 'timed' : 'analysed';
}

/** The contract gate, on both revisions' metadata as the builtin router publishes it with its stats. */
function contractOf(
  md: ModelDeployment,
  progression: Progression,
  documents: NonNullable<Observed['statsBaseline']>,
  routes: { stable: string; candidate: string },
): ContractCheck {
  if (progression === 'analysed') {
    return checkContract(
      modelMetadataOf(documents, routes.stable),
      modelMetadataOf(documents, routes.candidate),
      md.spec.rollout?.allowContractChange,
    );
  }
  return {
    status: 'Allowed',
    differences: [],
    message:
      progression === 'timed'
        ? 'not checked: the gateway-api router gives the operator no view of model metadata'
        : 'not checked: spec.rollout.strategy is Replace',
  };
}
