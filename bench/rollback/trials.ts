/**
 * rollback.json's shape: what one trial measured and the per-kind summary (types only, shared by the
 * bench that writes it and the reports that read it).
 */
import type { BenchNode } from './platform.js';
import type { Distribution, Settled } from './settle.js';

/** What was rolled back: a candidate at 50% (abort), or a promoted revision onto the retained one. */
export type TrialKind = 'abort' | 'rollback-after-promotion';

/** One rollback as measured. Times are Date.now() values. */
export interface Trial {
  kind: TrialKind;
  index: number;
  /** The route traffic moves away from, and the one that must take every new request. */
  from: string;
  target: string;
  actionAt: number;
  patchedAt: number;
  /** When the bench's watch saw the routes ConfigMap give the target 100%. */
  routesSeenAt?: number;
  /** When each router pod logged those routes applied. */
  routersAppliedAt: number[];
  /** The window closed here (every loop on target for the tail). */
  windowEnd: number;
  /** Absent when the traffic had not settled within the bench's timeout. */
  settled?: Settled;
  /** Requests answered by another revision though sent after the routes update was seen. */
  stragglers?: number;
  /** Requests sent in [actionAt, windowEnd] and failed ones among them. */
  requests: number;
  failed: number;
  /** 1-minute load average when the action was written. */
  loadAverage: number;
}

/** The figures of one kind of trial, in ms. */
export interface KindSummary {
  trials: number;
  unsettled: number;
  latencyMs: Distribution;
  /**
   * Per trial the later of the settle point and the last router's "routes applied": a bound that
   * does not depend on the requests' sampling (a 50/50 split can answer a few in a row from
   * stable by chance before the switch).
   */
  untilRoutersAndDataMs: Distribution;
  stages: { patchMs: Distribution; operatorMs: Distribution; routersMs: Distribution; dataPathMs: Distribution };
  /** Last router applied minus first: how far apart the two router pods were. */
  routerSkewMs: Distribution;
  /** Per trial, the latest loop's switch minus the earliest's (the connections' spread). */
  loopSpreadMs: Distribution;
  stragglers: number;
  failed: number;
  requests: number;
  loadAverage: Distribution;
  /** The p99 target of issue 5: under one second. */
  p99UnderOneSecond: boolean;
}

/** The whole result file. */
export interface RollbackReport {
  date: string;
  commit: string;
  machine: { cpus: number; model: string; memoryGiB: number; node: string };
  setup: {
    /** Where it ran (absent in runs from before the real-pod mode, which were all kwok). */
    node?: BenchNode;
    loops: number;
    intervalSeconds: number;
    candidateWeight: number;
    stable: string;
    candidate: string;
    routerPods: number;
    tailMs: number;
    /** Whether the load paused while re-arming (absent in runs from before the real-pod mode: it did). */
    loadPausedWhileRearming?: boolean;
  };
  loadAverage: { start: number[]; end: number[] };
  /** Failed requests outside the rollback windows by `<status> <revision>` (re-arming, promotion). */
  requests: {
    total: number;
    failed: number;
    failedOutsideTrials: number;
    failedOutsideTrialsBy: Record<string, number>;
  };
  rearmMs: number[];
  promoteMs: number[];
  trials: Trial[];
  summary: Partial<Record<TrialKind, KindSummary>>;
  /** Why the run ended before all its trials, when it did. */
  stoppedEarly?: string;
}
