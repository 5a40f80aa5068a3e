/* eslint-disable @typescript-eslint/no-explicit-any -- the tables edit manifests as free-form JSON, on purpose */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { CEL_RULES } from './rules.js';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { findCrdPath, openApiSchemaOf, readCrd, toJsonSchema } from './schema.js';
import { validateModelDeployment } from './validate.js';

const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;
const SHA = 'cb28a3ead0c4a7869fe07a4a73b6c5f2b69ea3aa17c7a950f3153d42c8032b1b';

function valid(): Record<string, any> {
  return {
    apiVersion: 'modelship.dev/v1alpha1',
    kind: 'ModelDeployment',
    metadata: { name: 'digits', namespace: 'default' },
    spec: { model: { uri: 'https://models.example.com/digits.onnx', sha256: SHA }, replicas: 2 },
  };
}

function mutated(edit: (md: Record<string, any>) => void): Record<string, any> {
  const md = valid();
  edit(md);
  return md;
}

describe('validateModelDeployment', () => {
  it('accepts a minimal valid object and applies the schema defaults', () => {
    const result = validateModelDeployment(valid());
    expect(result.errors).toEqual([]);
    expect(result.ok).toBe(true);
    expect(result.value!.spec.server?.batching).toEqual({ maxBatchSize: 32, maxLatencyMs: 0 });
    expect(result.value!.spec.traffic?.router).toBe('builtin');
    expect(result.value!.spec.rollout?.retainPreviousSeconds).toBe(600);
    expect(result.value!.spec.rollout?.steps).toEqual([
      { weight: 10, pauseSeconds: 30 },
      { weight: 50, pauseSeconds: 60 },
    ]);
  });

  it('ignores status: a stale or foreign status never makes a spec invalid', () => {
    expect(
      validateModelDeployment({ ...valid(), status: { phase: 'whatever', conditions: 'not a list' } }).errors,
    ).toEqual([]);
  });

  it('does not modify its argument', () => {
    const md = valid();
    validateModelDeployment(md);
    expect(md).toEqual(valid());
  });

  // Each row: a mistake users make, the path that must be named, and words the message must contain.
  const mistakes: [string, (md: Record<string, any>) => void, string, RegExp][] = [
    [
      'sha256 in uppercase',
      (m) => {
        m.spec.model.sha256 = SHA.toUpperCase();
      },
      'spec.model.sha256',
      /64 lowercase hex/,
    ],
    [
      'sha256 too short',
      (m) => {
        m.spec.model.sha256 = SHA.slice(1);
      },
      'spec.model.sha256',
      /64 lowercase hex/,
    ],
    [
      'missing sha256',
      (m) => {
        delete m.spec.model.sha256;
      },
      'spec.model.sha256',
      /required/,
    ],
    [
      'missing model',
      (m) => {
        delete m.spec.model;
      },
      'spec.model',
      /required/,
    ],
    [
      'an unknown scheme',
      (m) => {
        m.spec.model.uri = 'azure://models/digits.onnx';
      },
      'spec.model.uri',
      /scheme must be one of https, http, pvc, file, s3, gs, oci/,
    ],
    [
      's3 uri without a key',
      (m) => {
        m.spec.model.uri = 's3://models';
      },
      'spec.model.uri',
      /s3:\/\/<bucket>\/<key>/,
    ],
    [
      's3 bucket in uppercase',
      (m) => {
        m.spec.model.uri = 's3://Models/digits.onnx';
      },
      'spec.model.uri',
      /3-63 lowercase letters, digits, dots and hyphens/,
    ],
    [
      'gs uri without an object',
      (m) => {
        m.spec.model.uri = 'gs://models/';
      },
      'spec.model.uri',
      /gs:\/\/<bucket>\/<object>/,
    ],
    [
      'oci uri without a tag or digest',
      (m) => {
        m.spec.model.uri = 'oci://registry.example.com/models/digits';
      },
      'spec.model.uri',
      /must end in a tag or a digest/,
    ],
    [
      'oci digest of another algorithm',
      (m) => {
        m.spec.model.uri = `oci://registry.example.com/models/digits@sha512:${SHA}`;
      },
      'spec.model.uri',
      /sha256:<64 lowercase hex characters>/,
    ],
    [
      'oci repository in uppercase',
      (m) => {
        m.spec.model.uri = 'oci://registry.example.com/Team/digits:v1';
      },
      'spec.model.uri',
      /repository lowercase path components/,
    ],
    [
      'a .. segment',
      (m) => {
        m.spec.model.uri = 'pvc://models/v1/../../secrets/key';
      },
      'spec.model.uri',
      /'\.\.' path segments/,
    ],
    [
      'credentials in an https uri',
      (m) => {
        m.spec.model.uri = 'https://alice:s3cret@models.example.com/digits.onnx';
      },
      'spec.model.uri',
      /must not carry credentials .*spec\.model\.storage\.secretRef/,
    ],
    [
      'pathStyle with a gs uri',
      (m) => {
        m.spec.model = { uri: 'gs://models/digits.onnx', sha256: SHA, storage: { pathStyle: true } };
      },
      'spec.model.storage.pathStyle',
      /applies only to s3:\/\/ URIs/,
    ],
    [
      'secretRef with a file uri',
      (m) => {
        m.spec.model = { uri: 'file:///models/digits.onnx', sha256: SHA, storage: { secretRef: { name: 'creds' } } };
      },
      'spec.model.storage.secretRef',
      /applies only to s3:\/\/, gs:\/\/ and oci:\/\/ URIs/,
    ],
    [
      'a storage endpoint that is not an http(s) URL',
      (m) => {
        m.spec.model = { uri: 's3://models/digits.onnx', sha256: SHA, storage: { endpoint: 'minio.example:9000' } };
      },
      'spec.model.storage.endpoint',
      /http:\/\/ or https:\/\/ URL/,
    ],
    [
      'a storage timeout under 10 seconds',
      (m) => {
        m.spec.model = { uri: 's3://models/digits.onnx', sha256: SHA, storage: { timeoutSeconds: 1 } };
      },
      'spec.model.storage.timeoutSeconds',
      />= 10/,
    ],
    [
      'a secretRef name that is not an object name',
      (m) => {
        m.spec.model = { uri: 's3://models/digits.onnx', sha256: SHA, storage: { secretRef: { name: 'My_Creds' } } };
      },
      'spec.model.storage.secretRef.name',
      /Kubernetes object name/,
    ],
    [
      'typo in a storage field',
      (m) => {
        m.spec.model = { uri: 's3://models/digits.onnx', sha256: SHA, storage: { pathstyle: true } };
      },
      'spec.model.storage.pathstyle',
      /unknown field/,
    ],
    [
      'pvc uri without a path',
      (m) => {
        m.spec.model.uri = 'pvc://models';
      },
      'spec.model.uri',
      /pvc:\/\/<claim>\/<path>/,
    ],
    [
      'replicas and autoscaling',
      (m) => {
        m.spec.autoscaling = { maxReplicas: 3 };
      },
      'spec.replicas',
      /mutually exclusive/,
    ],
    [
      'minReplicas above maxReplicas',
      (m) => {
        delete m.spec.replicas;
        m.spec.autoscaling = { minReplicas: 5, maxReplicas: 3 };
      },
      'spec.autoscaling.minReplicas',
      /less than or equal/,
    ],
    [
      'negative replicas',
      (m) => {
        m.spec.replicas = -1;
      },
      'spec.replicas',
      />= 0/,
    ],
    [
      'replicas as a string',
      (m) => {
        m.spec.replicas = 'two';
      },
      'spec.replicas',
      /integer/,
    ],
    [
      'falling step weights',
      (m) => {
        m.spec.rollout = { steps: [{ weight: 50 }, { weight: 10 }] };
      },
      'spec.rollout.steps',
      /strictly rising/,
    ],
    [
      'repeated step weights',
      (m) => {
        m.spec.rollout = { steps: [{ weight: 10 }, { weight: 10 }] };
      },
      'spec.rollout.steps',
      /strictly rising/,
    ],
    [
      'step weight over 100',
      (m) => {
        m.spec.rollout = { steps: [{ weight: 150 }] };
      },
      'spec.rollout.steps[0].weight',
      /<= 100/,
    ],
    [
      'step weight 0',
      (m) => {
        m.spec.rollout = { steps: [{ weight: 0 }] };
      },
      'spec.rollout.steps[0].weight',
      />= 1/,
    ],
    [
      'maxErrorRate above 1',
      (m) => {
        m.spec.rollout = { analysis: { maxErrorRate: 2 } };
      },
      'spec.rollout.analysis.maxErrorRate',
      /<= 1/,
    ],
    [
      'minAgreement below 0',
      (m) => {
        m.spec.rollout = { analysis: { minAgreement: -0.5 } };
      },
      'spec.rollout.analysis.minAgreement',
      />= 0/,
    ],
    [
      'fixed weight above 100',
      (m) => {
        m.spec.rollout = { weight: 101 };
      },
      'spec.rollout.weight',
      /<= 100/,
    ],
    [
      'shadow percent 0',
      (m) => {
        m.spec.rollout = { shadowFirst: { percent: 0, seconds: 10 } };
      },
      'spec.rollout.shadowFirst.percent',
      />= 1/,
    ],
    [
      'gateway-api without gatewayRef',
      (m) => {
        m.spec.traffic = { router: 'gateway-api' };
      },
      'spec.traffic.gatewayRef',
      /required when spec.traffic.router is gateway-api/,
    ],
    [
      'gatewayRef with the builtin router',
      (m) => {
        m.spec.traffic = { router: 'builtin', gatewayRef: { name: 'gw' } };
      },
      'spec.traffic.gatewayRef',
      /not allowed otherwise/,
    ],
    [
      'unknown router',
      (m) => {
        m.spec.traffic = { router: 'istio' };
      },
      'spec.traffic.router',
      /one of: builtin, gateway-api/,
    ],
    [
      'reserved env name',
      (m) => {
        m.spec.server = { env: [{ name: 'MODELSHIP_SHA256', value: 'x' }] };
      },
      'spec.server.env[0].name',
      /reserved/,
    ],
    [
      'env name not an identifier',
      (m) => {
        m.spec.server = { env: [{ name: '1-BAD', value: 'x' }] };
      },
      'spec.server.env[0].name',
      /C identifier/,
    ],
    [
      'env with value and valueFrom',
      (m) => {
        m.spec.server = { env: [{ name: 'A', value: 'x', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } }] };
      },
      'spec.server.env[0]',
      /mutually exclusive/,
    ],
    [
      'name too long for revision names',
      (m) => {
        m.metadata.name = 'a'.repeat(53);
      },
      'metadata.name',
      /at most 52/,
    ],
    [
      'name with dots',
      (m) => {
        m.metadata.name = 'digits.v2';
      },
      'metadata.name',
      /DNS-1035/,
    ],
    [
      'typo in a field name',
      (m) => {
        m.spec.replica = 2;
      },
      'spec.replica',
      /unknown field/,
    ],
    [
      'bad resource quantity',
      (m) => {
        m.spec.server = { resources: { requests: { cpu: 'lots' } } };
      },
      'spec.server.resources.requests.cpu',
      /Kubernetes quantity/,
    ],
    [
      'batch size 0',
      (m) => {
        m.spec.server = { batching: { maxBatchSize: 0 } };
      },
      'spec.server.batching.maxBatchSize',
      />= 1/,
    ],
    [
      "a size in the server parser's units",
      (m) => {
        m.spec.server = { limits: { maxResponseSize: '32mb' } };
      },
      'spec.server.limits.maxResponseSize',
      /size in bytes such as .*64Mi/,
    ],
    [
      'a fractional size',
      (m) => {
        m.spec.server = { limits: { maxRequestSize: '1.5Gi' } };
      },
      'spec.server.limits.maxRequestSize',
      /size in bytes/,
    ],
    [
      'bad pull policy',
      (m) => {
        m.spec.server = { imagePullPolicy: 'Sometimes' };
      },
      'spec.server.imagePullPolicy',
      /one of: Always, IfNotPresent, Never/,
    ],
    [
      'two autoscaling targets',
      (m) => {
        m.spec.autoscaling = { maxReplicas: 4, targetCPUUtilizationPercentage: 60, targetConcurrency: 4 };
        delete m.spec.replicas;
      },
      'spec.autoscaling',
      /at most one of targetCPUUtilizationPercentage, targetConcurrency and targetRequestsPerSecond/,
    ],
    [
      'scale to zero on CPU',
      (m) => {
        m.spec.autoscaling = { minReplicas: 0, maxReplicas: 4, idleSeconds: 60 };
        delete m.spec.replicas;
      },
      'spec.autoscaling.minReplicas',
      /needs targetConcurrency or targetRequestsPerSecond, because an HPA on CPU cannot scale to zero/,
    ],
    [
      'scale to zero without idleSeconds',
      (m) => {
        m.spec.autoscaling = { minReplicas: 0, maxReplicas: 4, targetConcurrency: 2 };
        delete m.spec.replicas;
      },
      'spec.autoscaling.minReplicas',
      /needs spec.autoscaling.idleSeconds/,
    ],
    [
      'request autoscaling behind the gateway-api router',
      (m) => {
        m.spec.autoscaling = { minReplicas: 0, maxReplicas: 4, targetRequestsPerSecond: 20, idleSeconds: 60 };
        m.spec.traffic = { router: 'gateway-api', gatewayRef: { name: 'gw' } };
        delete m.spec.replicas;
      },
      'spec.autoscaling.targetRequestsPerSecond',
      /needs spec.traffic.router builtin/,
    ],
    [
      'idleSeconds with minReplicas 1',
      (m) => {
        m.spec.autoscaling = { maxReplicas: 4, targetConcurrency: 2, idleSeconds: 60 };
        delete m.spec.replicas;
      },
      'spec.autoscaling.idleSeconds',
      /only with spec.autoscaling.minReplicas 0/,
    ],
    [
      'a scale-down window on the CPU HPA',
      (m) => {
        m.spec.autoscaling = { maxReplicas: 4, scaleDownWindowSeconds: 300 };
        delete m.spec.replicas;
      },
      'spec.autoscaling.scaleDownWindowSeconds',
      /only with targetConcurrency or targetRequestsPerSecond/,
    ],
    [
      'a target concurrency of 0',
      (m) => {
        m.spec.autoscaling = { maxReplicas: 4, targetConcurrency: 0 };
        delete m.spec.replicas;
      },
      'spec.autoscaling.targetConcurrency',
      /> 0/,
    ],
    [
      "the router's HPA behind the gateway-api router",
      (m) => {
        m.spec.traffic = { router: 'gateway-api', gatewayRef: { name: 'gw' }, routerAutoscaling: { maxReplicas: 3 } };
      },
      'spec.traffic.routerAutoscaling',
      /only with spec.traffic.router builtin/,
    ],
    [
      "the router's HPA with min above max",
      (m) => {
        m.spec.traffic = { routerAutoscaling: { minReplicas: 4, maxReplicas: 2 } };
      },
      'spec.traffic.routerAutoscaling.minReplicas',
      /less than or equal to spec.traffic.routerAutoscaling.maxReplicas/,
    ],
    [
      'wrong apiVersion',
      (m) => {
        m.apiVersion = 'modelship.dev/v1';
      },
      'apiVersion',
      /modelship.dev\/v1alpha1/,
    ],
    [
      'missing name',
      (m) => {
        delete m.metadata.name;
      },
      'metadata.name',
      /required/,
    ],
  ];

  it.each(mistakes)('rejects %s, naming the field', (_what, edit, path, words) => {
    const result = validateModelDeployment(mutated(edit));
    expect(result.ok).toBe(false);
    const found = result.errors.some((e) => e.path === path && words.test(e.message));
    expect({ errors: result.errors, found }).toMatchObject({ found: true });
  });

  it('never repeats the credentials of a URI or an endpoint it refuses', () => {
    const result = validateModelDeployment(
      mutated((m) => {
        m.spec.model = {
          uri: 'https://alice:s3cret@models.example.com/digits.onnx',
          sha256: SHA,
          storage: { endpoint: 'https://AKIA:wJalr@minio.example:9000' },
        };
      }),
    );
    expect(result.ok).toBe(false);
    expect(JSON.stringify(result.errors)).not.toMatch(/s3cret|wJalr|AKIA|alice/);
  });

  it('defaults the CA bundle key to ca.crt and leaves the fetch deadline to the server', () => {
    const result = validateModelDeployment(
      mutated((m) => {
        m.spec.model = { uri: 's3://models/digits.onnx', sha256: SHA, storage: { caBundleRef: { name: 'ca' } } };
      }),
    );
    expect(result.value?.spec.model.storage).toEqual({ caBundleRef: { name: 'ca', key: 'ca.crt' } });
  });

  it('leaves the CPU target, the windows and the activation timeout to the operator when unset', () => {
    const result = validateModelDeployment(
      mutated((m) => {
        delete m.spec.replicas;
        m.spec.autoscaling = { minReplicas: 0, maxReplicas: 4, targetConcurrency: 0.5, idleSeconds: 120 };
      }),
    );
    expect(result.errors).toEqual([]);
    expect(result.value!.spec.autoscaling).toEqual({
      minReplicas: 0,
      maxReplicas: 4,
      targetConcurrency: 0.5,
      idleSeconds: 120,
    });
  });

  it("defaults the CPU HPA's minimum to 1 and the router's HPA to 1 pod at 70 % CPU", () => {
    const result = validateModelDeployment(
      mutated((m) => {
        delete m.spec.replicas;
        m.spec.autoscaling = { maxReplicas: 4 };
        m.spec.traffic = { routerAutoscaling: { maxReplicas: 3 } };
      }),
    );
    expect(result.errors).toEqual([]);
    expect(result.value!.spec.autoscaling).toEqual({ minReplicas: 1, maxReplicas: 4 });
    expect(result.value!.spec.traffic?.routerAutoscaling).toEqual({
      minReplicas: 1,
      maxReplicas: 3,
      targetCPUUtilizationPercentage: 70,
    });
  });

  it('reports every mistake of an object at once', () => {
    const result = validateModelDeployment(
      mutated((m) => {
        m.spec.model.sha256 = 'nope';
        m.spec.model.uri = 'ftp://x/y';
        m.spec.rollout = { steps: [{ weight: 20 }, { weight: 10 }] };
      }),
    );
    expect([...new Set(result.errors.map((e) => e.path))].sort()).toEqual([
      'spec.model.sha256',
      'spec.model.uri',
      'spec.rollout.steps',
    ]);
  });
});

describe('the CRD', () => {
  const crd = readCrd(findCrdPath());

  function celMessages(node: unknown, out: string[] = []): string[] {
    if (Array.isArray(node)) node.forEach((n) => celMessages(n, out));
    else if (node !== null && typeof node === 'object') {
      for (const [k, v] of Object.entries(node)) {
        if (k === 'x-kubernetes-validations') out.push(...(v as { message: string }[]).map((r) => r.message));
        else celMessages(v, out);
      }
    }
    return out;
  }

  it('has a TypeScript twin for every CEL rule, with the same message', () => {
    expect(celMessages(crd).sort()).toEqual(CEL_RULES.map((r) => r.message).sort());
  });

  it('describes every field (kubectl explain)', () => {
    const undocumented: string[] = [];
    const walk = (schema: Record<string, any>, path: string): void => {
      // The API server documents metadata itself and forbids anything but `type` there.
      if (path === '.metadata') return;
      if (typeof schema.description !== 'string' || schema.description.length === 0) undocumented.push(path);
      for (const [k, v] of Object.entries(schema.properties ?? {})) walk(v as Record<string, any>, `${path}.${k}`);
      if (schema.items) walk(schema.items, `${path}[]`);
      if (typeof schema.additionalProperties === 'object') walk(schema.additionalProperties, `${path}{}`);
    };
    walk(openApiSchemaOf(crd), '');
    expect(undocumented).toEqual([]);
  });

  it('is structural: every node has a type (or is int-or-string), and every default fits its own schema', () => {
    const problems: string[] = [];
    const ajv = new Ajv({ strict: false });
    addFormats(ajv);
    const walk = (schema: Record<string, any>, path: string): void => {
      if (schema.type === undefined && schema['x-kubernetes-int-or-string'] !== true) problems.push(`${path}: no type`);
      if (schema.default !== undefined && !ajv.validate(toJsonSchema(schema), structuredClone(schema.default))) {
        problems.push(`${path}: default ${JSON.stringify(schema.default)} ${ajv.errorsText()}`);
      }
      for (const [k, v] of Object.entries(schema.properties ?? {})) walk(v as Record<string, any>, `${path}.${k}`);
      if (schema.items) walk(schema.items, `${path}[]`);
      if (typeof schema.additionalProperties === 'object') walk(schema.additionalProperties, `${path}{}`);
    };
    walk(openApiSchemaOf(crd), '');
    expect(problems).toEqual([]);
  });

  it('bounds every string and list a CEL rule reads (API server cost budget)', () => {
    const unbounded: string[] = [];
    const walk = (schema: Record<string, any>, path: string, underSpec: boolean): void => {
      if (underSpec && schema.type === 'string' && schema.maxLength === undefined && schema.enum === undefined)
        unbounded.push(path);
      if (underSpec && schema.type === 'array' && schema.maxItems === undefined) unbounded.push(path);
      for (const [k, v] of Object.entries(schema.properties ?? {}))
        walk(v as Record<string, any>, `${path}.${k}`, underSpec || k === 'spec');
      if (schema.items) walk(schema.items, `${path}[]`, underSpec);
    };
    walk(openApiSchemaOf(crd), '', false);
    expect(unbounded).toEqual([]);
  });
});

describe('examples', () => {
  const dir = join(findCrdPath(), '..', '..', 'examples');
  const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));

  it('has at least the four documented examples', () => {
    expect(files).toEqual(
      expect.arrayContaining(['digits.yaml', 'digits-autoscaling.yaml', 'digits-autoscale.yaml', 'digits-canary.yaml']),
    );
  });

  it.each(files)('%s validates clean', (file) => {
    const docs = parseAllDocuments(readFileSync(join(dir, file), 'utf8')).map((d) => d.toJS());
    const mds = docs.filter((d) => d?.kind === 'ModelDeployment');
    expect(mds.length).toBeGreaterThan(0);
    for (const md of mds) expect(validateModelDeployment(md).errors).toEqual([]);
  });

  it('uses the digests committed in examples/models/SHA256SUMS', () => {
    const sums = new Map(
      readFileSync(join(dir, 'models', 'SHA256SUMS'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => {
          const [sum, name] = l.trim().split(/\s+/);
          return [name!, sum!] as const;
        }),
    );
    for (const file of files) {
      for (const md of parseAllDocuments(readFileSync(join(dir, file), 'utf8')).map((d) => d.toJS())) {
        const modelFile = String(md.spec.model.uri).split('/').pop()!;
        if (sums.has(modelFile)) expect(`${file}: ${md.spec.model.sha256}`).toBe(`${file}: ${sums.get(modelFile)}`);
      }
    }
  });
});
