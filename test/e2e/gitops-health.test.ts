/**
 * The chart's Argo CD health check beside kstatus, on the states the e2e rollouts do not reach on their
 * own (a paused canary, a generation not yet observed, a refused spec, no status yet), a ModelDeployment
 * as the API server returns it before any operator has seen it, and the chart README's argocd-cm snippet
 * being the shipped script, so the documented configuration is the tested one.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CustomObjectsApi } from '@kubernetes/client-node';
import { repoRoot } from '../cluster/cluster.js';
import { gitopsHealth, HEALTH_LUA } from './gitops.js';
import { applyYaml, createTestNamespace, deleteNamespace, loadKubeConfig } from './kube.js';
import { readMd } from './md.js';
import { installCrd } from './operator.harness.js';

const condition = (type: string, status: string, reason: string, message: string) => ({
  type,
  status,
  reason,
  message,
  lastTransitionTime: '2026-12-07T08:00:00Z',
  observedGeneration: 4,
});

/** A ModelDeployment at generation 4 with `status`. */
function md(status?: Record<string, unknown>): Record<string, unknown> {
  return {
    apiVersion: 'modelship.dev/v1alpha1',
    kind: 'ModelDeployment',
    metadata: { name: 'digits', namespace: 'ml', generation: 4 },
    spec: { model: { uri: 'file:///models/digits.onnx', sha256: 'a'.repeat(64) } },
    ...(status ? { status } : {}),
  };
}

/** A ModelDeployment whose status at generation 4 has these conditions. */
const observed = (...conditions: object[]) => md({ observedGeneration: 4, conditions });

const serving = condition('Ready', 'True', 'Available', 'revision digits-7c9 serves 70% with 1 available pod(s)');
const noProblems = condition('Stalled', 'False', 'NoProblems', 'no problem observed');

/** A state, and what Argo CD shows (health, message) and kstatus (its status; undefined: not checked). */
type Case = [name: string, obj: Record<string, unknown>, argocd: string, message: string, kstatus?: string];

it('shows each state as Argo CD and Flux would', async () => {
  const invalid = 'spec.rollout.steps[0].weight: must be <= 100';
  const starting = 'revision digits-7c9: 0/1 pod(s) available';
  const cases: Case[] = [
    // kstatus alone would say Current here; the CRD's status default keeps a real object out of this
    // state (the last test).
    ['no status at all', md(), 'Progressing', 'Waiting for the operator to report status'],
    [
      'a generation the operator has not observed',
      md({ observedGeneration: 3, conditions: [serving, noProblems] }),
      'Progressing',
      'Waiting for the operator to observe generation 4',
      'InProgress',
    ],
    [
      'a paused canary',
      md({
        observedGeneration: 4,
        conditions: [serving, condition('Reconciling', 'True', 'Progressing', 'canary paused'), noProblems],
        canary: { revision: 'digits-1d2', phase: 'Paused', weight: 30, step: 1, message: 'paused by modelship pause' },
      }),
      'Suspended',
      'Canary digits-1d2 paused at 30%: paused by modelship pause',
      'InProgress',
    ],
    [
      'a spec the operator refuses',
      observed(
        condition('Ready', 'False', 'InvalidSpec', invalid),
        condition('Reconciling', 'False', 'Stalled', 'progress is blocked; see the Stalled condition'),
        condition('Stalled', 'True', 'InvalidSpec', invalid),
      ),
      'Degraded',
      `InvalidSpec: ${invalid}`,
      'Failed',
    ],
    [
      'pods starting',
      observed(
        condition('Ready', 'False', 'Starting', starting),
        condition('Reconciling', 'False', 'Reconciled', 'revision digits-7c9 is stable'),
        noProblems,
      ),
      'Progressing',
      `Starting: ${starting}`,
    ],
  ];
  const verdicts = await gitopsHealth(cases.map(([, obj]) => obj));
  const seen = cases.map(([name, , , , kstatus], i): Case => {
    const { argocd, kstatus: k } = verdicts[i]!;
    const seenCase: Case = [name, cases[i]![1], argocd.status, argocd.message];
    if (kstatus) seenCase.push(k.status);
    return seenCase;
  });
  expect(seen).toEqual(cases);
});

it('documents in the chart README exactly the script it ships', () => {
  const readme = readFileSync(join(repoRoot(), 'charts/modelship/README.md'), 'utf8');
  const block = /resource\.customizations\.health\.modelship\.dev_ModelDeployment: \|\n((?: {4}.*\n|\n)+)```/.exec(
    readme,
  );
  expect(block).not.toBeNull();
  const documented = block![1]!.replace(/^ {4}/gm, '').trimEnd();
  expect(documented).toBe(readFileSync(HEALTH_LUA, 'utf8').trimEnd());
});

it('shows a ModelDeployment no operator has seen yet as in progress, not Current', async () => {
  const kc = loadKubeConfig();
  await installCrd(kc);
  const ns = await createTestNamespace(kc, 'gitops');
  try {
    const obj = md();
    await applyYaml(kc, JSON.stringify({ ...obj, metadata: { name: 'fresh' } }), ns);
    const stored = await readMd<Record<string, unknown>>(kc.makeApiClient(CustomObjectsApi), ns, 'fresh');
    const [v] = await gitopsHealth([stored]);
    expect(v).toEqual({
      argocd: { status: 'Progressing', message: 'Waiting for the operator to observe generation 1' },
      kstatus: {
        status: 'InProgress',
        message: 'ModelDeployment generation is 1, but latest observed generation is 0',
      },
    });
  } finally {
    await deleteNamespace(kc, ns);
  }
});
