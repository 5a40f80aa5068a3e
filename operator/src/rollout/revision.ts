/**
 * Revisions: a short, stable hash of everything that changes the pods of a revision (model,
 * server, auth) — but not its scale, rollout or traffic settings, which apply to every revision.
 */
import { createHash } from 'node:crypto';
import type { AuthSpec, ModelDeployment, ModelDeploymentSpec, ModelSpec, ServerSpec } from '../api/types.js';
import { REVISION_LENGTH } from '../desired/names.js';

/** The part of a spec that defines a revision's pods. */
export interface RevisionTemplate {
  model: ModelSpec;
  server?: ServerSpec;
  auth?: AuthSpec;
}

/** The revision-defining part of a spec (absent sections stay absent). */
export function templateOf(spec: ModelDeploymentSpec): RevisionTemplate {
  const template: RevisionTemplate = { model: spec.model };
  if (spec.server !== undefined) template.server = spec.server;
  if (spec.auth !== undefined) template.auth = spec.auth;
  return template;
}

/**
 * JSON with object keys sorted at every level and undefined members dropped, so equal values
 * always serialise to equal strings whatever order the user wrote them in.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const member = (value as Record<string, unknown>)[key];
      if (member !== undefined) out[key] = sortKeys(member);
    }
    return out;
  }
  return value;
}

/** The revision of a template: the first 10 hex characters of sha256 over its canonical JSON. */
export function revisionOfTemplate(template: RevisionTemplate): string {
  return createHash('sha256').update(canonicalJson(template)).digest('hex').slice(0, REVISION_LENGTH);
}

/** The revision the ModelDeployment's spec asks for. */
export function revisionOf(md: ModelDeployment): string {
  return revisionOfTemplate(templateOf(md.spec));
}
