/**
 * The ModelDeployment API (group modelship.dev, version v1alpha1), as TypeScript types.
 * `crds/` holds the schema (the single source of validation); these types mirror it.
 */

export const GROUP = 'modelship.dev';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = 'ModelDeployment';
export const PLURAL = 'modeldeployments';

/** A namespaced object of the ModelDeployment's own namespace, by name. */
export interface LocalObjectReference {
  name: string;
}

/**
 * How to reach the store a remote model is kept in (spec.model.storage). Each field applies to
 * some schemes only (see STORAGE_FIELD_SCHEMES in rules.ts); the CRD refuses the others.
 */
export interface StorageSpec {
  /** s3, gs, oci: a Secret whose keys are contract STORAGE_SECRET_KEYS; unset: anonymous. */
  secretRef?: LocalObjectReference;
  /** s3: the S3 API's URL; gs: the JSON API's URL (http:// or https://). */
  endpoint?: string;
  /** s3: the bucket's region. */
  region?: string;
  /** s3: address the bucket in the path (MinIO and most S3-compatible stores). */
  pathStyle?: boolean;
  /** oci: the registry speaks plain HTTP. */
  plainHTTP?: boolean;
  /** https, s3, gs, oci: a ConfigMap key holding PEM CA certificates trusted beside the system's. */
  caBundleRef?: { name: string; key?: string };
  /** Remote schemes: the whole fetch's deadline, retries included (10..3600, server default 300). */
  timeoutSeconds?: number;
}

/** The model a revision serves. */
export interface ModelSpec {
  /**
   * file:///<path>, pvc://<claim>/<path>, http(s)://..., s3://<bucket>/<key>, gs://<bucket>/<object>
   * or oci://<registry>/<repository>(:<tag>|@sha256:<hex>).
   */
  uri: string;
  /** Lowercase hex sha256 of the model file; the server refuses to serve anything else. */
  sha256: string;
  /** Name the model is served under; defaults to the ModelDeployment's name. */
  name?: string;
  /** Optional Ed25519 signature over the digest (base64) checked with a public key from a Secret. */
  signature?: { value: string; publicKeySecretRef: { name: string; key?: string } };
  /** How to reach the store of an s3://, gs://, oci:// or https:// model. */
  storage?: StorageSpec;
  /**
   * The reference profile for drift detection, made from the training data when the model was
   * built: fetched from `uri` like the model (same sources, same storage settings) and refused
   * unless its sha256 is `sha256`.
   */
  profile?: { uri: string; sha256: string };
}

export interface ResourceRequirements {
  requests?: Record<string, string>;
  limits?: Record<string, string>;
}

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: Record<string, unknown>;
}

/** How the inference server runs. */
export interface ServerSpec {
  image?: string;
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  resources?: ResourceRequirements;
  batching?: { maxBatchSize?: number; maxLatencyMs?: number };
  /** Serving processes per pod sharing its port, each with its own copy of the model. */
  processes?: number;
  /** Inference worker threads per serving process. */
  workers?: number;
  /** How large one request body and one answer's output data may be (sizes such as 64Mi). */
  limits?: { maxRequestSize?: string; maxResponseSize?: string };
  env?: EnvVar[];
}

/**
 * How a revision's replicas follow its load. With `targetConcurrency` or `targetRequestsPerSecond`
 * the operator itself scales on the routers' figures (builtin router); otherwise an HPA on CPU
 * (`targetCPUUtilizationPercentage`, 70 when nothing is named). At most one target.
 */
export interface AutoscalingSpec {
  /** 0 turns on scale to zero (then `idleSeconds` is required); 1 when unset. */
  minReplicas?: number;
  maxReplicas: number;
  targetCPUUtilizationPercentage?: number;
  /** Live requests in flight per pod the operator aims for (mean over the metric window). */
  targetConcurrency?: number;
  /** Live requests per second per pod the operator aims for. */
  targetRequestsPerSecond?: number;
  /** Scale up to the lowest recommendation of this many past seconds (0: at once). Default 0. */
  scaleUpWindowSeconds?: number;
  /** Scale down to the highest recommendation of this many past seconds. Default 60. */
  scaleDownWindowSeconds?: number;
  /** With minReplicas 0: scale to zero after this many seconds without a request. */
  idleSeconds?: number;
  /** How long the router holds a request while a revision starts from zero. Default 60. */
  activationTimeoutSeconds?: number;
}

/** An HPA on CPU for the builtin router's own Deployment. */
export interface RouterAutoscalingSpec {
  minReplicas?: number;
  maxReplicas: number;
  targetCPUUtilizationPercentage?: number;
}

export interface RolloutStep {
  weight: number;
  pauseSeconds?: number;
}

export interface AnalysisSpec {
  intervalSeconds?: number;
  maxErrorRate?: number;
  maxLatencyP99Ms?: number;
  minRequests?: number;
  minAgreement?: number;
  /** Fail a check whose joined labels show the candidate's accuracy below this (0..1). */
  minAccuracy?: number;
  /** Labels a check needs before minAccuracy is judged (default 50). */
  minLabels?: number;
  failureLimit?: number;
  /** Prometheus queries judged at each check (see {@link MetricSpec}). */
  metrics?: MetricSpec[];
  /** HTTP checks a team runs on the candidate (see {@link WebhookSpec}). */
  webhooks?: WebhookSpec[];
}

/** One metric of spec.rollout.analysis.metrics: a PromQL query whose one number must lie in thresholdRange. */
export interface MetricSpec {
  name: string;
  prometheus: { address: string; query: string };
  /** Bounds included; at least one is set. */
  thresholdRange: { min?: number; max?: number };
}

/** When a webhook is called: before any traffic, at each check, before 100%, or after a rollback. */
export type WebhookType = 'PreRollout' | 'Rollout' | 'PrePromotion' | 'Rollback';

/** One webhook of spec.rollout.analysis.webhooks: a 2xx answer to a JSON POST passes, anything else fails. */
export interface WebhookSpec {
  name: string;
  type: WebhookType;
  url: string;
  /** Seconds to wait for the answer (CRD default 10, at most 60). */
  timeoutSeconds?: number;
  /** Sent as-is in the request; shown nowhere. */
  metadata?: Record<string, string>;
}

export interface RolloutSpec {
  /** Canary (default): gate, steps and analysis. Replace: 100% once available. */
  strategy?: 'Canary' | 'Replace';
  steps?: RolloutStep[];
  analysis?: AnalysisSpec;
  shadowFirst?: { percent: number; seconds: number };
  retainPreviousSeconds?: number;
  /** Hold the rollout where it is. */
  paused?: boolean;
  /** Hold the candidate at exactly this live weight (analysis still runs and can roll back). */
  weight?: number;
  /** Allow a candidate whose inputs/outputs differ from the stable's. */
  allowContractChange?: boolean;
  /** Longest uninterrupted wait for evidence the rollout can judge before onProgressDeadline applies. */
  progressDeadlineSeconds?: number;
  /** What a canary past progressDeadlineSeconds comes to. */
  onProgressDeadline?: ProgressDeadlinePolicy;
}

/**
 * What a canary that could not be judged for spec.rollout.progressDeadlineSeconds comes to: held
 * where it is and reported Stalled, promoted, or rolled back.
 */
export type ProgressDeadlinePolicy = 'Pause' | 'Promote' | 'Rollback';

export interface TrafficSpec {
  router?: 'builtin' | 'gateway-api';
  gatewayRef?: { name: string; namespace?: string; sectionName?: string };
  /** Route requests with the same value of this header to the same revision. */
  stickyHeader?: string;
  /** Scale the builtin router's Deployment with an HPA on CPU (else it runs a fixed count). */
  routerAutoscaling?: RouterAutoscalingSpec;
}

export interface AuthSpec {
  tokenSecretRef: { name: string; key?: string };
}

/** Sampled request/response pairs sent as KServe-compatible CloudEvents to an HTTP sink. */
export interface PayloadLoggingSpec {
  url: string;
  /** Percent of requests logged (default 100). */
  percent?: number;
  /** Both halves (default), the request only, or the response only. */
  mode?: 'all' | 'request' | 'response';
}

/** Drift of live inputs and outputs against the model's profile (or its first rows), in the router. */
export interface DriftSpec {
  /** PSI above which the ModelDeployment is marked drifted (default 0.2). */
  threshold?: number;
  /** Rows in the sliding live window (default 1000). */
  windowRows?: number;
  /** Without spec.model.profile: the first this many rows are the reference (default 1000). */
  referenceRows?: number;
}

/** Ground-truth labels posted against request ids, joined with the predictions. */
export interface AccuracySpec {
  /** The output holding the predicted labels (default: the first integer output, else argmax of the first). */
  output?: string;
  /** How long a prediction waits for its label (default 3600). */
  labelTtlSeconds?: number;
}

/** What the router observes of the traffic it serves; each part is off when absent. */
export interface MonitoringSpec {
  payloadLogging?: PayloadLoggingSpec;
  drift?: DriftSpec;
  accuracy?: AccuracySpec;
}

export interface ModelDeploymentSpec {
  model: ModelSpec;
  server?: ServerSpec;
  replicas?: number;
  autoscaling?: AutoscalingSpec;
  rollout?: RolloutSpec;
  traffic?: TrafficSpec;
  auth?: AuthSpec;
  monitoring?: MonitoringSpec;
}

/** A kstatus-style condition. */
export interface Condition {
  type: 'Ready' | 'Reconciling' | 'Stalled' | string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

export interface RevisionModel {
  uri: string;
  sha256: string;
}

export interface StableStatus {
  revision: string;
  model: RevisionModel;
  replicas?: number;
  readyReplicas: number;
}

export interface AnalysisStatus {
  requests: number;
  errorRate?: number;
  latencyP99Ms?: number;
  agreement?: number;
  /** The candidate's accuracy over the labels of the last check's window. */
  accuracy?: number;
  /** Labels joined in that window. */
  labels?: number;
  failures: number;
  lastResult?: 'Passed' | 'Failed' | 'Inconclusive';
  message?: string;
}

/**
 * Where a canary is: Pending (warming up at weight 0, before any shadow or live traffic), Shadow,
 * Progressing through the steps, Paused, then Promoted or RolledBack.
 */
export type CanaryPhase = 'Pending' | 'Shadow' | 'Progressing' | 'Paused' | 'Promoted' | 'RolledBack';

export interface CanaryStatus {
  revision: string;
  model: RevisionModel;
  phase: CanaryPhase;
  weight: number;
  /** Index into the steps; -1 before the first step (Pending, Shadow). */
  step: number;
  stepStartedAt?: string;
  readyReplicas: number;
  analysis?: AnalysisStatus;
  message?: string;
  /** CamelCase reason of the latest decision. */
  reason?: string;
  /** Percent of requests mirrored to the candidate (0 when not mirroring). */
  mirrorPercent?: number;
  /** When the last analysis check was made. */
  lastCheckAt?: string;
  /** When the latest check passed with a window entirely inside the current step. */
  passedAt?: string;
  /** Failed checks during this rollout. */
  failures?: number;
  /** Consecutive inconclusive checks. */
  inconclusive?: number;
  /** Since when the rollout has had nothing it can judge; the progress deadline counts from here. */
  inconclusiveSince?: string;
  lastResult?: 'Passed' | 'Failed' | 'Inconclusive';
  /** The last check's figures, or every reason it did not pass. */
  analysisMessage?: string;
}

/** Why a revision runs the replicas it does. */
export type ScaleReason =
  | 'Fixed' // spec.replicas
  | 'CPU' // its HPA sizes it
  | 'Load' // request autoscaling, from the routers' figures
  | 'Idle' // no request for idleSeconds: scaled to zero
  | 'Activation' // requests held at zero: starting
  | 'NoData' // request autoscaling without enough readings yet: kept as it is
  | 'CanaryWeight' // a candidate sized by its share of the stable's current replicas
  | 'Retained' // kept warm for rollback until its window ends
  | 'RolledBack'; // a rolled-back candidate runs nothing

/** One revision's scale in status: what the operator wants, what runs, and why. */
export interface RevisionScaleStatus {
  revision: string;
  role: 'stable' | 'candidate' | 'retained';
  /** Replicas the operator (or the HPA) wants. */
  desiredReplicas: number;
  /** Replicas the Deployment has now. */
  currentReplicas: number;
  readyReplicas: number;
  reason: ScaleReason;
  /** The figures behind the decision (load against target, idle time, share). */
  message: string;
  /** When desiredReplicas last changed. */
  lastScaleTime?: string;
}

/** What the routers observed of one revision (status.monitoring), summed over the router pods. */
export interface RevisionMonitoringStatus {
  revision: string;
  /** The largest input-feature PSI among the router pods, and its feature; unset until a window is full. */
  inputPsi?: number;
  feature?: string;
  /** PSI of the predicted classes. */
  outputPsi?: number;
  /** Whether either PSI is above spec.monitoring.drift.threshold. */
  drifted?: boolean;
  /** Labels joined with this revision's predictions, and the share predicted right. */
  labels?: number;
  accuracy?: number;
}

export interface HistoryEntry {
  revision: string;
  model: RevisionModel;
  outcome: 'Promoted' | 'RolledBack' | 'Superseded' | 'Initial';
  at: string;
  reason?: string;
}

/**
 * Where the ModelDeployment stands in a few words, for the kubectl get columns (JSONPath cannot
 * choose between fields): derived from the conditions and status.canary.
 */
export interface StatusSummary {
  /** The canary's phase while status.canary exists, else Stalled, Reconciling or Stable. */
  phase: CanaryPhase | 'Stalled' | 'Reconciling' | 'Stable';
  /** Why: Stalled's reason, else the canary's, else Reconciling's or Ready's; unset when settled. */
  reason?: string;
  /** The candidate revision while it is live (not once rolled back). */
  canary?: string;
  /** The live candidate's percent of live traffic. */
  weight?: number;
}

export interface ModelDeploymentStatus {
  observedGeneration?: number;
  conditions?: Condition[];
  stable?: StableStatus;
  canary?: CanaryStatus;
  traffic?: { revision: string; percent: number }[];
  /** The live split in one line (`<rev>=<percent>% ...`), for the Traffic printer column. */
  trafficSummary?: string;
  /** Where the ModelDeployment stands, for the kubectl get columns. */
  summary?: StatusSummary;
  history?: HistoryEntry[];
  /** Revisions kept warm after promotion, until the given time. */
  retained?: { revision: string; until: string }[];
  url?: string;
  /** The last one-shot action (modelship.dev/action annotation value) that was handled. */
  lastAction?: string;
  /** Every running revision's scale, stable first. */
  scale?: RevisionScaleStatus[];
  /** Drift and accuracy per revision, from the routers' figures, while spec.monitoring asks for them. */
  monitoring?: RevisionMonitoringStatus[];
  /** Ready pods of the revisions taking live traffic, for the kubectl get columns. */
  readyReplicas?: number;
  /** For the scale subresource. */
  replicas?: number;
  selector?: string;
}

export interface ObjectMeta {
  name: string;
  namespace: string;
  uid?: string;
  generation?: number;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  creationTimestamp?: string;
  deletionTimestamp?: string;
}

export interface ModelDeployment {
  apiVersion: typeof API_VERSION;
  kind: typeof KIND;
  metadata: ObjectMeta;
  spec: ModelDeploymentSpec;
  status?: ModelDeploymentStatus;
}
