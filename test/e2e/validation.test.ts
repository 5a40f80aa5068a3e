/**
 * The ModelDeployment CRD on a real API server: every case of crds/check/cases.json (the table the
 * CRD is also checked against with the apiextensions code itself) is created with dryRun=All. An
 * invalid manifest must be refused with 422 and a message naming each field at fault; a valid one
 * must be accepted. The operator's offline validator (`modelship validate`) must agree on both, and
 * where a CEL rule refuses the object, the API server says it in the same words as `modelship
 * validate` (the scheme rules of spec.model.uri, the spec.model.storage fields of another scheme).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { CEL_RULES } from '../../operator/src/api/rules.js';
import { validateModelDeployment } from '../../operator/src/api/validate.js';
import { createTestNamespace, deleteNamespace, errorMessage, loadKubeConfig, statusCode } from './kube.js';
import { installCrd } from './operator.harness.js';

interface Case {
  name: string;
  object: { metadata: { namespace?: string } } & Record<string, unknown>;
  /** Dotted paths of the fields at fault; empty for a valid object. */
  errors: string[];
}

const TIMEOUT = 120_000;
const cases: Case[] = JSON.parse(readFileSync(join(process.cwd(), 'crds/check/cases.json'), 'utf8'));
const invalid = cases.filter((c) => c.errors.length > 0);
const valid = cases.filter((c) => c.errors.length === 0);

/** Whether an offline message is a CEL rule's (whole, or after the path it starts with). */
function isCelMessage(message: string): boolean {
  return CEL_RULES.some((r) => r.message === message || r.message.endsWith(`: ${message}`));
}

let kc: KubeConfig;
let api: CustomObjectsApi;
let ns: string;

/** Creates the case's object (dry run) in the test namespace; the API server's answer. */
async function create(c: Case): Promise<{ code: number; message: string }> {
  const body = { ...c.object, metadata: { ...c.object.metadata, namespace: ns } };
  try {
    await api.createNamespacedCustomObject({
      group: 'modelship.dev',
      version: 'v1alpha1',
      namespace: ns,
      plural: 'modeldeployments',
      body,
      dryRun: 'All',
    });
    return { code: 201, message: '' };
  } catch (err) {
    return { code: statusCode(err) ?? 0, message: errorMessage(err) };
  }
}

beforeAll(async () => {
  kc = loadKubeConfig();
  api = kc.makeApiClient(CustomObjectsApi);
  await installCrd(kc);
  ns = await createTestNamespace(kc, 'validation');
}, TIMEOUT);

afterAll(async () => {
  if (ns) await deleteNamespace(kc, ns);
}, TIMEOUT);

test('the table holds at least ten kinds of mistake', () => {
  expect(new Set(invalid.flatMap((c) => c.errors)).size).toBeGreaterThanOrEqual(10);
});

describe('the API server refuses invalid ModelDeployments, naming the field', () => {
  it.each(invalid.map((c) => [c.name, c] as const))(
    '%s',
    async (_name, c) => {
      const answer = await create(c);
      expect(answer.code).toBe(422);
      for (const path of c.errors) expect(answer.message).toContain(path);
      const offline = validateModelDeployment(c.object);
      expect(offline.ok).toBe(false);
      expect(offline.errors.map((e) => e.path)).toEqual(expect.arrayContaining(c.errors));
      for (const words of offline.errors.map((e) => e.message).filter(isCelMessage)) {
        expect(answer.message).toContain(words);
      }
    },
    TIMEOUT,
  );
});

describe('the API server accepts valid ModelDeployments', () => {
  it.each(valid.map((c) => [c.name, c] as const))(
    '%s',
    async (_name, c) => {
      expect(await create(c)).toEqual({ code: 201, message: '' });
      expect(validateModelDeployment(c.object)).toMatchObject({ ok: true });
    },
    TIMEOUT,
  );
});
