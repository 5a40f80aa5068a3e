/**
 * Turn the CRD's OpenAPI v3 schema into a JSON Schema ajv can compile: the CRD in crds/ stays the
 * single source, and this is the only translation of it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { VERSION } from './types.js';

/** File name of the CRD under crds/. */
export const CRD_FILE = 'modeldeployments.modelship.dev.yaml';

type Schema = Record<string, unknown>;

/**
 * Where the CRD is: $MODELSHIP_CRD if set, else crds/<file> in the nearest ancestor directory of
 * this module (works from the sources, from dist/ and from an installed package).
 */
export function findCrdPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.MODELSHIP_CRD) return env.MODELSHIP_CRD;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'crds', CRD_FILE);
    if (existsSync(candidate)) return candidate;
    const parent = resolve(dir, '..');
    if (parent === dir)
      throw new Error(
        `load CRD ${CRD_FILE}: not found above ${dirname(fileURLToPath(import.meta.url))}; set MODELSHIP_CRD`,
      );
    dir = parent;
  }
}

/** The parsed CRD document. */
export function readCrd(path: string = findCrdPath()): Schema {
  try {
    return parse(readFileSync(path, 'utf8')) as Schema;
  } catch (err) {
    throw new Error(`load CRD ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/** The openAPIV3Schema of our served version in a parsed CRD. */
export function openApiSchemaOf(crd: Schema): Schema {
  const versions =
    (crd.spec as { versions?: { name: string; schema?: { openAPIV3Schema?: Schema } }[] } | undefined)?.versions ?? [];
  const schema = versions.find((v) => v.name === VERSION)?.schema?.openAPIV3Schema;
  if (!schema) throw new Error(`load CRD: no openAPIV3Schema for version ${VERSION}`);
  return schema;
}

/**
 * The JSON Schema equivalent of a structural OpenAPI schema: x-kubernetes-* keys dropped
 * (int-or-string becomes integer|string), Kubernetes-only formats dropped, OpenAPI v3.0's boolean
 * exclusiveMinimum/exclusiveMaximum turned into JSON Schema's numeric bounds, and objects with
 * declared properties closed with additionalProperties: false, so a typo in a field name is an
 * error offline (the API server would silently prune it).
 */
export function toJsonSchema(node: Schema): Schema {
  const out: Schema = {};
  for (const [key, value] of Object.entries(node)) {
    if (key.startsWith('x-kubernetes-')) continue;
    if (key === 'format' && (value === 'int32' || value === 'int64')) continue;
    if (key === 'properties') {
      out.properties = Object.fromEntries(
        Object.entries(value as Record<string, Schema>).map(([k, v]) => [k, toJsonSchema(v)]),
      );
    } else if ((key === 'items' || key === 'additionalProperties') && typeof value === 'object' && value !== null) {
      out[key] = toJsonSchema(value as Schema);
    } else {
      out[key] = value;
    }
  }
  if (node['x-kubernetes-int-or-string'] === true) out.type = ['integer', 'string'];
  // OpenAPI v3.0 (what a CRD speaks): `exclusiveMinimum: true` makes `minimum` exclusive.
  for (const [flag, bound] of [
    ['exclusiveMinimum', 'minimum'],
    ['exclusiveMaximum', 'maximum'],
  ] as const) {
    if (typeof node[flag] !== 'boolean') continue;
    delete out[flag];
    if (node[flag] === true && node[bound] !== undefined) {
      out[flag] = node[bound];
      delete out[bound];
    }
  }
  if (
    out.properties !== undefined &&
    out.additionalProperties === undefined &&
    node['x-kubernetes-preserve-unknown-fields'] !== true
  ) {
    out.additionalProperties = false;
  }
  return out;
}
