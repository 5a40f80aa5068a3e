/**
 * Offline JSON schemas for kubeconform, generated from the running cluster's /openapi/v2, so
 * `helm template | kubeconform -strict` validates against the exact API the chart is installed on
 * without fetching anything from the network. One standalone file per kind, named the way
 * kubeconform's template expects (`{{ .ResourceKind }}{{ .KindSuffix }}.json`, e.g.
 * deployment-apps-v1.json), with every $ref inlined, int-or-string as string|integer, and
 * additionalProperties false wherever properties are listed (strict: unknown fields fail).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { adminRequest, type ClusterInfo } from '../cluster/cluster.js';

type Schema = Record<string, unknown>;

/** kubeconform's file name for a group/version/kind. */
export function schemaFileName(group: string, version: string, kind: string): string {
  const prefix = group ? `${group.split('.')[0]!.toLowerCase()}-` : '';
  return `${kind.toLowerCase()}-${prefix}${version.toLowerCase()}.json`;
}

/** Inlines $refs and tightens one schema node (pure, recursive; cycles become open objects). */
export function standalone(node: unknown, definitions: Record<string, Schema>, seen: string[] = []): unknown {
  if (Array.isArray(node)) return node.map((n) => standalone(n, definitions, seen));
  if (!node || typeof node !== 'object') return node;
  const obj = node as Schema;
  if (typeof obj.$ref === 'string') {
    const name = obj.$ref.replace('#/definitions/', '');
    // Recursive types (JSONSchemaProps) cannot be inlined forever; accept any object there.
    if (seen.includes(name)) return {};
    const target = definitions[name];
    if (!target) throw new Error(`inline schema ${name}: not in /openapi/v2 definitions`);
    return standalone(target, definitions, [...seen, name]);
  }
  if (obj.format === 'int-or-string') return { oneOf: [{ type: 'string' }, { type: 'integer' }] };
  const out: Schema = {};
  for (const [k, v] of Object.entries(obj)) {
    if (k.startsWith('x-kubernetes-')) continue;
    out[k] =
      k === 'properties'
        ? Object.fromEntries(Object.entries(v as Schema).map(([p, s]) => [p, standalone(s, definitions, seen)]))
        : standalone(v, definitions, seen);
  }
  if (out.properties && out.additionalProperties === undefined) out.additionalProperties = false;
  return out;
}

/** Writes one schema file per kind of the cluster's API into dir; returns how many. */
export async function writeKubeconformSchemas(info: ClusterInfo, dir: string): Promise<number> {
  const res = await adminRequest(info, 'GET', '/openapi/v2');
  if (res.status !== 200) throw new Error(`get /openapi/v2: ${res.status} ${res.body.slice(0, 200)}`);
  const definitions = (JSON.parse(res.body) as { definitions: Record<string, Schema> }).definitions;
  mkdirSync(dir, { recursive: true });
  let count = 0;
  for (const def of Object.values(definitions)) {
    const gvks = def['x-kubernetes-group-version-kind'] as
      { group: string; version: string; kind: string }[] | undefined;
    if (!gvks) continue;
    for (const { group, version, kind } of gvks) {
      writeFileSync(join(dir, schemaFileName(group, version, kind)), JSON.stringify(standalone(def, definitions)));
      count++;
    }
  }
  return count;
}
