import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { findCrdPath } from './schema.js';
import { validateModelDeployment } from './validate.js';

/**
 * crds/check/cases.json is shared with crds/check (Go, kube-apiserver's own validation code):
 * both validators must fail exactly the listed paths, so what `modelship validate` says offline is
 * what the API server will say.
 */
interface Case {
  name: string;
  object: unknown;
  errors: string[];
  /** For valid cases: the object after the API server's defaulting. */
  defaulted?: unknown;
}

const cases = JSON.parse(readFileSync(join(findCrdPath(), '..', 'check', 'cases.json'), 'utf8')) as Case[];

describe('cases shared with the API server check', () => {
  it('has valid and invalid cases', () => {
    expect(cases.filter((c) => c.errors.length === 0).length).toBeGreaterThanOrEqual(3);
    expect(cases.filter((c) => c.errors.length > 0).length).toBeGreaterThanOrEqual(20);
  });

  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const result = validateModelDeployment(c.object);
    const paths = [...new Set(result.errors.map((e) => e.path))].sort();
    expect(paths).toEqual(c.errors);
    // The revision hash is computed from the defaulted spec: offline defaults must be the API server's.
    if (c.errors.length === 0) expect(result.value).toEqual(c.defaulted);
  });
});
