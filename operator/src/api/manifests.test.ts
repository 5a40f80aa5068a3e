import { parse } from 'yaml';
import { revisionOf } from '../rollout/revision.js';
import { validateManifest } from './manifests.js';
import { validateModelDeployment } from './validate.js';

const SHA = 'cb28a3ead0c4a7869fe07a4a73b6c5f2b69ea3aa17c7a950f3153d42c8032b1b';
const GOOD = `apiVersion: modelship.dev/v1alpha1
kind: ModelDeployment
metadata: {name: digits, namespace: ml}
spec:
  model: {uri: "file:///models/digits.onnx", sha256: ${SHA}}
`;

describe('validateManifest', () => {
  const rev = revisionOf(validateModelDeployment(parse(GOOD)).value!);

  it('passes a valid ModelDeployment and names it with the revision it will get in the cluster', () => {
    expect(validateManifest('md.yaml', GOOD)).toEqual({
      ok: true,
      checked: 1,
      lines: [`md.yaml: doc 1: ModelDeployment ml/digits: valid (revision ${rev})`],
    });
  });

  it('computes the revision from the defaulted spec, so writing a default out changes nothing', () => {
    const explicit = GOOD.replace('spec:\n', 'spec:\n  server: {batching: {maxBatchSize: 32, maxLatencyMs: 0}}\n');
    expect(explicit).not.toBe(GOOD);
    expect(validateManifest('md.yaml', explicit).lines).toEqual([
      `md.yaml: doc 1: ModelDeployment ml/digits: valid (revision ${rev})`,
    ]);
  });

  it('reports each error as file: doc N: path: message, skipping other kinds', () => {
    const text = `apiVersion: v1
kind: Secret
metadata: {name: tokens}
---
${GOOD}---
apiVersion: modelship.dev/v1alpha1
kind: ModelDeployment
metadata: {name: broken}
spec:
  model: {uri: "s3://Models/m.onnx", sha256: ${SHA.slice(2)}}
  replicas: 2
  autoscaling: {maxReplicas: 3}
`;
    const report = validateManifest('all.yaml', text);
    expect(report.ok).toBe(false);
    expect(report.checked).toBe(2);
    expect(report.lines).toEqual([
      `all.yaml: doc 2: ModelDeployment ml/digits: valid (revision ${rev})`,
      'all.yaml: doc 3: spec.model.sha256: must be 64 lowercase hex characters (the SHA-256 of the model file)',
      'all.yaml: doc 3: spec.replicas: spec.replicas and spec.autoscaling are mutually exclusive: set one of them',
      "all.yaml: doc 3: spec.model.uri: an s3 URI must be s3://<bucket>/<key>, the bucket 3-63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit, without '..' and not an IP address",
    ]);
  });

  it('reports broken YAML with its document number instead of throwing', () => {
    const report = validateManifest('bad.yaml', `${GOOD}---\nspec: {model: [unclosed\n`);
    expect(report.ok).toBe(false);
    expect(report.lines[1]).toMatch(/^bad\.yaml: doc 2: yaml: /);
  });

  it('checks documents of our group even with a wrong kind', () => {
    const report = validateManifest('k.yaml', GOOD.replace('kind: ModelDeployment', 'kind: ModelDeploy'));
    expect(report.lines).toEqual(['k.yaml: doc 1: kind: must be ModelDeployment']);
  });

  it('ignores empty documents', () => {
    expect(validateManifest('e.yaml', `---\n${GOOD}---\n`)).toMatchObject({ ok: true, checked: 1 });
  });
});
