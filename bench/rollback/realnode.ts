/**
 * The real-pod path of the rollback benchmark (`make bench-rollback-real`, root on Linux): the local
 * control plane with one real node (containerd, kubelet, kube-proxy, CoreDNS, a local registry;
 * test/cluster), Modelship installed as a user installs it (test/run/install.ts: the image `make image`
 * built, pushed to the node's registry; the Helm chart with its defaults, the operator in two pods with
 * leader election). The model servers and routers are the kubelet's pods behind real readiness
 * probes; the load reaches the apex Service's ClusterIP through kube-proxy; router logs come from the
 * API server's pod log endpoint (the kubelet behind it).
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { AppsV1Api, CoreV1Api, type KubeConfig } from '@kubernetes/client-node';

import { LABEL } from '../../operator/src/desired/names.js';
import { clusterDown } from '../../test/cluster/cluster.js';
import { createTestNamespace, loadKubeConfig } from '../../test/e2e/kube.js';
import { serviceUrl } from '../../test/e2e-pods/pods.js';
import { RELEASE, realNodeWithModelship } from '../../test/run/install.js';
import type { Platform } from './platform.js';

/** Answers in a row from a revision's Service before it counts as routed (kube-proxy has its endpoint). */
const SERVICE_PROBES = 5;
/** Seconds of log to ask for beyond the span asked about: the kubelet's sinceSeconds is whole seconds. */
const LOG_SLACK_SECONDS = 2;

/** The real-node platform; start() brings it up, stop() saves the pods' logs and takes the node down. */
export class RealNodePlatform implements Platform {
  readonly node = 'real';
  /**
   * The load keeps running while `retry@` re-arms the candidate, as a user's traffic would: the
   * operator gives the candidate traffic only once its Deployment is available (since 37a5e18; before,
   * a Deployment scaled to 0 counted as available and the re-armed candidate got 50% before its pod
   * existed: bench/rollback/README.md, findings).
   */
  readonly pauseLoadWhileRearming = false;
  kubeconfig = '';
  kc!: KubeConfig;
  namespace = '';
  private cluster = false;
  private core!: CoreV1Api;
  private apps!: AppsV1Api;

  constructor(
    /** The bench's state dir: every pod's log is saved there at stop(). */
    private readonly state: string,
    private readonly log: (message: string) => void,
  ) {}

  async start(): Promise<void> {
    // Only this run's pod logs in the state dir.
    rmSync(join(this.state, 'pods'), { recursive: true, force: true });
    this.cluster = true;
    const info = await realNodeWithModelship(this.log);
    this.kubeconfig = info.kubeconfig;
    this.kc = loadKubeConfig();
    this.core = this.kc.makeApiClient(CoreV1Api);
    this.apps = this.kc.makeApiClient(AppsV1Api);
    this.namespace = await createTestNamespace(this.kc, 'rollback-bench');
  }

  /** http://<ClusterIP>:<port>, routed by kube-proxy on this host, once it answers V2 ready. */
  apexUrl(md: string): Promise<string> {
    return serviceUrl(this.kc, this.namespace, md);
  }

  private async routerPods(md: string): Promise<string[]> {
    const pods = await this.core.listNamespacedPod({
      namespace: this.namespace,
      labelSelector: `${LABEL.deployment}=${md},${LABEL.component}=router`,
    });
    return pods.items.filter((p) => p.status?.phase === 'Running').map((p) => p.metadata!.name!);
  }

  /** Each running router pod's log from shortly before `since`, through the API server. */
  async routerLogs(md: string, since: number): Promise<string[]> {
    const sinceSeconds = Math.ceil((Date.now() - since) / 1000) + LOG_SLACK_SECONDS;
    const pods = await this.routerPods(md);
    return Promise.all(
      pods.map((name) => this.core.readNamespacedPodLog({ name, namespace: this.namespace, sinceSeconds })),
    );
  }

  /**
   * The revision's Deployment has pods, every one passed its readiness probe, none is still
   * terminating (an old pod finishing its drain would take requests on the routers' pooled
   * connections), and its Service (same name) answers V2 ready several times in a row through
   * kube-proxy: a pod is Ready a moment before kube-proxy routes to it, and in that moment the
   * routers' requests to the revision were refused (12 answers 502 per re-arm in a measured run).
   */
  async revisionReady(route: string): Promise<boolean> {
    const d = await this.apps.readNamespacedDeployment({ name: route, namespace: this.namespace });
    const labels = d.spec?.selector?.matchLabels ?? {};
    const labelSelector = Object.entries(labels)
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    if (!labelSelector) throw new Error(`read Deployment ${this.namespace}/${route}: no selector labels`);
    const pods = (await this.core.listNamespacedPod({ namespace: this.namespace, labelSelector })).items;
    const ready = (p: (typeof pods)[number]): boolean =>
      p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
    if (pods.length === 0 || !pods.every((p) => !p.metadata?.deletionTimestamp && ready(p))) return false;
    const svc = await this.core.readNamespacedService({ name: route, namespace: this.namespace });
    const url = `http://${svc.spec?.clusterIP}:${svc.spec?.ports?.[0]?.port}/v2/health/ready`;
    for (let i = 0; i < SERVICE_PROBES; i++) {
      if ((await fetch(url, { signal: AbortSignal.timeout(2000) })).status !== 200) return false;
    }
    return true;
  }

  /** Every container log still there, in the bench's and the operator's namespaces. */
  private async saveLogs(): Promise<void> {
    const dir = join(this.state, 'pods');
    mkdirSync(dir, { recursive: true });
    for (const namespace of [this.namespace, RELEASE.namespace]) {
      if (!namespace) continue;
      const pods = await this.core.listNamespacedPod({ namespace });
      for (const p of pods.items) {
        const name = p.metadata!.name!;
        const text = await this.core
          .readNamespacedPodLog({ name, namespace })
          .catch((err: Error) => `read log of pod ${namespace}/${name}: ${err.message}\n`);
        writeFileSync(join(dir, `${namespace}_${name}.log`), text);
      }
    }
  }

  async stop(): Promise<void> {
    if (!this.cluster) return;
    if (this.namespace) await this.saveLogs().catch((err: Error) => this.log(`save pod logs: ${err.message}`));
    await clusterDown().catch((err: Error) => this.log(`take the real node down: ${err.message}`));
    this.cluster = false;
  }
}
