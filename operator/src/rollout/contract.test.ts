import type { ModelMetadata } from '../../../contract/metadata.js';
import { emptyStatsDocument, statsSnapshot } from '../../../contract/stats.js';
import { checkContract, contractDifferences, modelMetadataOf } from './contract.js';

/** Metadata shaped like the digits classifier's (64 pixel features → label + probabilities). */
const DIGITS: ModelMetadata = {
  name: 'digits',
  versions: ['1'],
  platform: 'onnxruntime_onnx',
  inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 64] }],
  outputs: [
    { name: 'label', datatype: 'INT64', shape: [-1] },
    { name: 'probabilities', datatype: 'FP32', shape: [-1, 10] },
  ],
};

function edit(change: (m: ModelMetadata) => void): ModelMetadata {
  const m = structuredClone(DIGITS);
  change(m);
  return m;
}

describe('contractDifferences', () => {
  it.each<[string, ModelMetadata, string[]]>([
    ['identical', DIGITS, []],
    [
      'a new version or platform is not a contract change',
      edit((m) => {
        m.versions = ['2'];
        m.platform = 'other';
      }),
      [],
    ],
    [
      'input widened to any batch and width',
      edit((m) => {
        m.inputs[0]!.shape = [-1, -1];
      }),
      [],
    ],
    [
      'output narrowed to a fixed batch',
      edit((m) => {
        m.outputs[0]!.shape = [1];
      }),
      [],
    ],
    [
      'renamed model',
      edit((m) => {
        m.name = 'digits-v2';
      }),
      ['model name: digits → digits-v2'],
    ],
    [
      'input datatype',
      edit((m) => {
        m.inputs[0]!.datatype = 'FP64';
      }),
      ['input input: datatype FP32 → FP64'],
    ],
    [
      'input narrowed',
      edit((m) => {
        m.inputs[0]!.shape = [1, 64];
      }),
      ['input input: shape [-1,64] → [1,64]'],
    ],
    [
      'input width changed',
      edit((m) => {
        m.inputs[0]!.shape = [-1, 32];
      }),
      ['input input: shape [-1,64] → [-1,32]'],
    ],
    [
      'input rank changed',
      edit((m) => {
        m.inputs[0]!.shape = [-1, 8, 8];
      }),
      ['input input: shape [-1,64] → [-1,8,8]'],
    ],
    [
      'output widened',
      edit((m) => {
        m.outputs[1]!.shape = [-1, -1];
      }),
      ['output probabilities: shape [-1,10] → [-1,-1]'],
    ],
    [
      'output classes changed',
      edit((m) => {
        m.outputs[1]!.shape = [-1, 5];
      }),
      ['output probabilities: shape [-1,10] → [-1,5]'],
    ],
    [
      'input renamed',
      edit((m) => {
        m.inputs[0]!.name = 'pixels';
      }),
      ['input input: missing in the candidate', 'input pixels: new in the candidate (FP32 [-1,64])'],
    ],
    [
      'output removed',
      edit((m) => {
        m.outputs.pop();
      }),
      ['output probabilities: missing in the candidate'],
    ],
    [
      'output added',
      edit((m) => {
        m.outputs.push({ name: 'embedding', datatype: 'FP32', shape: [-1, 16] });
      }),
      ['output embedding: new in the candidate (FP32 [-1,16])'],
    ],
    [
      'several at once, all listed',
      edit((m) => {
        m.inputs[0]!.datatype = 'INT32';
        m.outputs[0]!.datatype = 'INT32';
      }),
      ['input input: datatype FP32 → INT32', 'output label: datatype INT64 → INT32'],
    ],
  ])('%s', (_name, candidate, differences) => {
    expect(contractDifferences(DIGITS, candidate)).toEqual(differences);
  });
});

describe('checkContract', () => {
  const changed = edit((m) => {
    m.inputs[0]!.shape = [-1, 32];
  });

  it('passes matching metadata', () => {
    expect(checkContract(DIGITS, DIGITS)).toEqual({
      status: 'Compatible',
      differences: [],
      message: 'inputs and outputs match the stable revision',
    });
  });

  it('blocks a change and says how to allow it', () => {
    const c = checkContract(DIGITS, changed);
    expect(c.status).toBe('Incompatible');
    expect(c.message).toBe(
      'candidate breaks the stable contract (set spec.rollout.allowContractChange to allow): input input: shape [-1,64] → [-1,32]',
    );
  });

  it('lets an allowed change through but still lists it', () => {
    const c = checkContract(DIGITS, changed, true);
    expect(c.status).toBe('Allowed');
    expect(c.differences).toEqual(['input input: shape [-1,64] → [-1,32]']);
  });

  it.each<[ModelMetadata | undefined, ModelMetadata | undefined, string]>([
    [undefined, DIGITS, 'model metadata of the stable not known yet'],
    [DIGITS, undefined, 'model metadata of the candidate not known yet'],
    [undefined, undefined, 'model metadata of the stable and candidate not known yet'],
  ])('is Unknown (never a pass) while metadata is missing: %#', (stable, candidate, message) => {
    expect(checkContract(stable, candidate, true)).toEqual({ status: 'Unknown', differences: [], message });
  });
});

describe('modelMetadataOf', () => {
  const doc = (pod: string, time: string, models?: unknown) => {
    const d = statsSnapshot(emptyStatsDocument(pod, new Date('2026-11-21T06:00:00.000Z')), new Date(time), 1);
    return models === undefined ? d : Object.assign(d, { models });
  };

  it('reads the newest well-formed metadata of a route from the stats documents', () => {
    const older = doc('router-a', '2026-11-21T06:00:05.000Z', {
      'digits-aaaaaaaaaa': { metadata: { ...DIGITS, name: 'old' } },
    });
    const newer = doc('router-b', '2026-11-21T06:00:09.000Z', { 'digits-aaaaaaaaaa': { metadata: DIGITS } });
    const broken = doc('router-c', '2026-11-21T06:00:10.000Z', {
      'digits-aaaaaaaaaa': { metadata: { name: 'x', inputs: 'nope', outputs: [] } },
    });
    expect(modelMetadataOf([older, broken, newer], 'digits-aaaaaaaaaa')).toEqual(DIGITS);
  });

  it('is undefined for routers that do not report metadata yet, so the gate stays Unknown', () => {
    const plain = doc('router-a', '2026-11-21T06:00:05.000Z');
    expect(modelMetadataOf([plain], 'digits-aaaaaaaaaa')).toBeUndefined();
    expect(checkContract(modelMetadataOf([plain], 'digits-aaaaaaaaaa'), DIGITS).status).toBe('Unknown');
  });
});
