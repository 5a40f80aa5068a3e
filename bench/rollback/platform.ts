/**
 * Where the rollback benchmark runs its trials: what differs between the kwok path (the operator as a
 * process, model servers and routers as local processes, kwok.ts) and real pods (the chart's operator
 * pods, the kubelet's pods, kube-proxy, realnode.ts). The trials, settle point and report are the same.
 */
import type { KubeConfig } from '@kubernetes/client-node';

/** Which platform a run used; recorded in the report. */
export type BenchNode = 'kwok' | 'real';

/** A started platform: a cluster with the operator running and a namespace to deploy into. */
export interface Platform {
  readonly node: BenchNode;
  /** Admin kubeconfig file of the cluster (the annotator process reads it). */
  readonly kubeconfig: string;
  readonly kc: KubeConfig;
  /** The namespace the ModelDeployment goes into. */
  readonly namespace: string;
  /**
   * Whether the load pauses while `retry@` re-arms the candidate (until revisionReady): kwok marks a
   * pod Ready before its server can answer; on real pods the operator routes to the re-armed
   * candidate before its new pod exists (kwok.ts and realnode.ts say what was seen).
   */
  readonly pauseLoadWhileRearming: boolean;
  /** The base URL of the ModelDeployment's apex Service, once it answers V2 ready there. */
  apexUrl(md: string): Promise<string>;
  /** The log text of each of the ModelDeployment's router pods, from `since` (Date.now()) on at least. */
  routerLogs(md: string, since: number): Promise<string[]>;
  /**
   * Whether the revision (its Deployment name, `<md>-<rev>`) is ready to answer: a ready serving
   * process (kwok), every pod Ready and none still draining (real).
   */
  revisionReady(route: string): Promise<boolean>;
  /** Saves the logs it can into the bench's state dir and stops everything it started; safe to call twice. */
  stop(): Promise<void>;
}
