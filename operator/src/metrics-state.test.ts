import { Registry } from 'prom-client';
import type { ModelDeployment } from './api/types.js';
import type { KubeObject } from './kube/client.js';
import { registerStateMetrics, stateSamples } from './metrics-state.js';

const model = { uri: 'file:///models/digits.onnx', sha256: 'a'.repeat(64) };

/** A ModelDeployment `digits` in `ml` with the given status. */
function md(status: ModelDeployment['status']): ModelDeployment {
  return {
    apiVersion: 'modelship.dev/v1alpha1',
    kind: 'ModelDeployment',
    metadata: { name: 'digits', namespace: 'ml' },
    spec: { model, replicas: 2 },
    status,
  };
}

const rolledBack = md({
  conditions: [
    { type: 'Ready', status: 'True', reason: 'Available', message: '', lastTransitionTime: '' },
    { type: 'Stalled', status: 'True', reason: 'ErrorRateExceeded', message: '', lastTransitionTime: '' },
  ],
  stable: { revision: 'aaaaaaaaaa', model, replicas: 2, readyReplicas: 1 },
  canary: { revision: 'bbbbbbbbbb', model, phase: 'RolledBack', weight: 0, step: 0, readyReplicas: 1, failures: 2 },
  traffic: [{ revision: 'aaaaaaaaaa', percent: 100 }],
  history: [
    { revision: 'cccccccccc', model, outcome: 'Initial', at: '' },
    { revision: 'aaaaaaaaaa', model, outcome: 'Promoted', at: '' },
    { revision: 'bbbbbbbbbb', model, outcome: 'RolledBack', at: '' },
  ],
});

/** What a scrape of a registry holding the state gauges over `mds` shows, as `name{labels} value` lines. */
async function scrape(mds: ModelDeployment[]): Promise<string[]> {
  const registry = new Registry();
  registerStateMetrics(registry, () => mds as unknown as KubeObject[]);
  return (await registry.metrics()).split('\n').filter((l) => l && !l.startsWith('#'));
}

describe('ModelDeployment state metrics', () => {
  it('a rolled-back canary: Stalled with its reason, phase RolledBack, weight 0, its failures, spec.replicas wanted, the history', async () => {
    const lines = await scrape([rolledBack]);
    const at = 'namespace="ml",modeldeployment="digits"';
    expect(lines).toEqual(
      expect.arrayContaining([
        `modelship_modeldeployment_condition{${at},type="Stalled",status="True",reason="ErrorRateExceeded"} 1`,
        `modelship_modeldeployment_canary_phase{${at},revision="digits-bbbbbbbbbb",phase="RolledBack"} 1`,
        `modelship_modeldeployment_canary_phase{${at},revision="digits-bbbbbbbbbb",phase="Progressing"} 0`,
        `modelship_modeldeployment_canary_weight{${at},revision="digits-bbbbbbbbbb"} 0`,
        `modelship_modeldeployment_canary_failures{${at},revision="digits-bbbbbbbbbb"} 2`,
        `modelship_modeldeployment_traffic_percent{${at},revision="digits-aaaaaaaaaa"} 100`,
        `modelship_modeldeployment_desired_replicas{${at},revision="digits-aaaaaaaaaa",role="stable"} 2`,
        `modelship_modeldeployment_ready_replicas{${at},revision="digits-aaaaaaaaaa",role="stable"} 1`,
        `modelship_modeldeployment_rollouts{${at},outcome="RolledBack"} 1`,
        `modelship_modeldeployment_rollouts{${at},outcome="Superseded"} 0`,
      ]),
    );
    // A rolled-back candidate runs nothing: no replica series for it.
    expect(lines.filter((l) => l.includes('_replicas{') && l.includes('bbbbbbbbbb'))).toEqual([]);
  });

  it('takes replicas per revision from status.scale when the operator reports it', () => {
    const scaled = md({
      stable: { revision: 'aaaaaaaaaa', model, readyReplicas: 1 },
      scale: [
        {
          revision: 'aaaaaaaaaa',
          role: 'stable',
          desiredReplicas: 3,
          currentReplicas: 3,
          readyReplicas: 1,
          reason: 'Load',
          message: '',
        },
        {
          revision: 'bbbbbbbbbb',
          role: 'retained',
          desiredReplicas: 1,
          currentReplicas: 1,
          readyReplicas: 1,
          reason: 'Retained',
          message: '',
        },
      ],
    });
    const replicas = stateSamples(scaled)
      .filter((s) => s.metric.endsWith('_replicas'))
      .map((s) => `${s.metric} ${s.labels.revision} ${s.labels.role} ${s.value}`);
    expect(replicas).toEqual([
      'desired_replicas digits-aaaaaaaaaa stable 3',
      'ready_replicas digits-aaaaaaaaaa stable 1',
      'desired_replicas digits-bbbbbbbbbb retained 1',
      'ready_replicas digits-bbbbbbbbbb retained 1',
    ]);
  });

  it('follows the cache: a deleted ModelDeployment leaves no series at the next scrape', async () => {
    const mds = [rolledBack];
    const registry = new Registry();
    registerStateMetrics(registry, () => mds as unknown as KubeObject[]);
    expect(await registry.metrics()).toContain('modeldeployment="digits"');
    mds.pop();
    expect(await registry.metrics()).not.toContain('modeldeployment="digits"');
  });

  it('a ModelDeployment without status yet shows only its empty history', () => {
    expect(stateSamples(md(undefined)).map((s) => `${s.metric} ${s.labels.outcome} ${s.value}`)).toEqual([
      'rollouts Initial 0',
      'rollouts Promoted 0',
      'rollouts RolledBack 0',
      'rollouts Superseded 0',
    ]);
  });
});
