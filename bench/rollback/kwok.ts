/**
 * The kwok path of the rollback benchmark (`make bench-rollback`): an isolated local control plane
 * with kwok's fake nodes, the CRD, the real operator process as a ServiceAccount with the chart's RBAC
 * (test/e2e/operator.harness.ts), and the local pod runner (test/localpods) running the model
 * servers and router pods as processes on loopback.
 */
import { appendFileSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import type { KubeConfig } from '@kubernetes/client-node';

import { clusterDown, clusterUp, repoRoot } from '../../test/cluster/cluster.js';
import { createTestNamespace, loadKubeConfig, waitFor } from '../../test/e2e/kube.js';
import {
  installCrd,
  operatorKubeconfig,
  startOperator,
  type OperatorProcess,
} from '../../test/e2e/operator.harness.js';
import { DEFAULT_SERVER_REPOSITORIES, parseMount } from '../../test/localpods/podspec.js';
import { PodRunner } from '../../test/localpods/runner.js';
import type { Platform } from './platform.js';

/** The kwok platform; start() brings it up, stop() takes down whatever start() got to. */
export class KwokPlatform implements Platform {
  readonly node = 'kwok';
  /**
   * kwok marks a re-created candidate pod Ready before its local process has loaded the model
   * (test/localpods README, Limits), so after `retry@` the operator routes to it too early: the
   * Service would answer 503 meanwhile and the analysis would roll it back for ErrorRateExceeded.
   */
  readonly pauseLoadWhileRearming = true;
  kubeconfig = '';
  kc!: KubeConfig;
  namespace = '';
  private cluster = false;
  private runner?: PodRunner;
  private op?: OperatorProcess;

  constructor(
    /** The bench's state dir: runner state and logs, operator log. */
    private readonly state: string,
    private readonly log: (message: string) => void,
  ) {}

  async start(): Promise<void> {
    const root = repoRoot();
    this.cluster = true;
    const info = await clusterUp({ log: (m) => this.log(`cluster: ${m}`) });
    this.kubeconfig = info.kubeconfig;
    process.env.MODELSHIP_E2E_KUBECONFIG = info.kubeconfig;
    this.kc = loadKubeConfig();
    await installCrd(this.kc);
    this.namespace = await createTestNamespace(this.kc, 'rollback-bench');
    const runnerLog = join(this.state, 'runner.log');
    this.runner = new PodRunner({
      kc: this.kc,
      root,
      stateDir: join(this.state, 'localpods'),
      mounts: [parseMount('/models=examples/models', root)],
      repositories: DEFAULT_SERVER_REPOSITORIES,
      namespace: this.namespace,
      log: (m) => appendFileSync(runnerLog, `${new Date().toISOString()} ${m}\n`),
    });
    await this.runner.start();
    this.op = await startOperator(await operatorKubeconfig(this.kc, this.namespace), this.namespace);
  }

  /** The runner's loopback address for the Service (it spreads connections over the router processes). */
  apexUrl(md: string): Promise<string> {
    const key = `${this.namespace}/${md}`;
    return waitFor(
      `apex Service ${key} answering`,
      async () => {
        const u = this.runner?.serviceUrls()[key];
        return u && (await fetch(`${u}/v2/health/ready`)).status === 200 ? u : undefined;
      },
      120_000,
      250,
    );
  }

  /** The runner's log file of each router pod (whole files: the bench picks the lines it needs). */
  routerLogs(md: string): Promise<string[]> {
    const dir = join(this.state, 'localpods', 'logs');
    return Promise.resolve(
      readdirSync(dir)
        .filter((f) => f.startsWith(`${this.namespace}_${md}-router-`))
        .map((f) => readFileSync(join(dir, f), 'utf8')),
    );
  }

  /** A pod of the revision whose local process answers ready. */
  revisionReady(route: string): Promise<boolean> {
    return Promise.resolve(this.runner?.readyPods().some((p) => p.startsWith(`${this.namespace}/${route}-`)) ?? false);
  }

  async stop(): Promise<void> {
    if (this.op) {
      writeFileSync(join(this.state, 'operator.log'), this.op.logs.map((l) => JSON.stringify(l)).join('\n') + '\n');
      await this.op.stop().catch(() => undefined);
      this.op = undefined;
    }
    await this.runner?.stop().catch(() => undefined);
    this.runner = undefined;
    if (this.cluster) await clusterDown().catch(() => undefined);
    this.cluster = false;
  }
}
