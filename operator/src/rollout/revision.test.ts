import { mdFixture, SHA_B } from '../../test/fixtures.js';
import { canonicalJson } from '../../../common/json.js';
import { revisionOf, revisionOfTemplate, templateOf } from './revision.js';

describe('revisionOf', () => {
  const base = mdFixture({ server: { batching: { maxBatchSize: 32, maxLatencyMs: 5 } } });

  it('is 10 lowercase hex characters', () => {
    expect(revisionOf(base)).toMatch(/^[0-9a-f]{10}$/);
  });

  it('is the same for the same content whatever the key order', () => {
    const reordered = mdFixture({ server: { batching: { maxLatencyMs: 5, maxBatchSize: 32 } } });
    reordered.spec = {
      server: reordered.spec.server,
      model: { sha256: reordered.spec.model.sha256, uri: reordered.spec.model.uri },
    };
    expect(revisionOf(reordered)).toBe(revisionOf(base));
  });

  // Rows: what changed, the change, whether the revision must change.
  const cases: [string, boolean, (md: ReturnType<typeof mdFixture>) => void][] = [
    [
      'replicas',
      false,
      (md) => {
        md.spec.replicas = 5;
      },
    ],
    [
      'autoscaling',
      false,
      (md) => {
        md.spec.autoscaling = { maxReplicas: 4 };
      },
    ],
    [
      'rollout steps',
      false,
      (md) => {
        md.spec.rollout = { steps: [{ weight: 20 }] };
      },
    ],
    [
      'traffic router',
      false,
      (md) => {
        md.spec.traffic = { router: 'gateway-api', gatewayRef: { name: 'gw' } };
      },
    ],
    [
      'labels and generation',
      false,
      (md) => {
        md.metadata.labels = { team: 'x' };
        md.metadata.generation = 7;
      },
    ],
    [
      'model sha256',
      true,
      (md) => {
        md.spec.model.sha256 = SHA_B;
      },
    ],
    [
      'model uri',
      true,
      (md) => {
        md.spec.model.uri = 'https://models.example.com/digits-2.onnx';
      },
    ],
    [
      'served name',
      true,
      (md) => {
        md.spec.model.name = 'other';
      },
    ],
    [
      // The pods read the store's settings at start: a new endpoint or deadline is a new revision,
      // rolled out (and rolled back) like any other, never a restart of the pods serving now.
      'model storage settings',
      true,
      (md) => {
        md.spec.model.storage = { timeoutSeconds: 600 };
      },
    ],
    [
      // The Secret's name is in the template; its content is not (a rotation restarts nothing).
      'model storage Secret name',
      true,
      (md) => {
        md.spec.model.storage = { secretRef: { name: 'rotated-creds' } };
      },
    ],
    [
      'batch size',
      true,
      (md) => {
        md.spec.server!.batching!.maxBatchSize = 8;
      },
    ],
    [
      'server image',
      true,
      (md) => {
        md.spec.server!.image = 'example.com/server:2';
      },
    ],
    [
      'resources',
      true,
      (md) => {
        md.spec.server!.resources = { requests: { cpu: '1' } };
      },
    ],
    [
      'env',
      true,
      (md) => {
        md.spec.server!.env = [{ name: 'A', value: '1' }];
      },
    ],
    [
      'auth',
      true,
      (md) => {
        md.spec.auth = { tokenSecretRef: { name: 'tokens' } };
      },
    ],
  ];

  it.each(cases)('%s: changes the revision = %s', (_what, changes, edit) => {
    const md = structuredClone(base);
    edit(md);
    expect(revisionOf(md) !== revisionOf(base)).toBe(changes);
  });

  it('is the revision of the template stored on the Deployment (round trip through JSON)', () => {
    const template = JSON.parse(canonicalJson(templateOf(base.spec)));
    expect(revisionOfTemplate(template)).toBe(revisionOf(base));
  });
});
