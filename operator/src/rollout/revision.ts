/**
 * Revisions: a short, stable hash of everything that changes the pods of a revision (model,
 * server, auth) — but not its scale, rollout or traffic settings, which apply to every revision.
 */
import { createHash } from 'node:crypto';
import type { AuthSpec, ModelDeployment, ModelDeploymentSpec, ModelSpec, ServerSpec } from '../api/types.js';
import { REVISION_LENGTH } from '../desired/names.js';
import { canonicalJson } from '../../../common/json.js';

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

/** The revision of a template: the first 10 hex characters of sha256 over its canonical JSON. */
export function revisionOfTemplate(template: RevisionTemplate): string {
  return createHash('sha256').update(canonicalJson(template)).digest('hex').slice(0, REVISION_LENGTH);
}

/** The revision the ModelDeployment's spec asks for. */
export function revisionOf(md: ModelDeployment): string {
  return revisionOfTemplate(templateOf(md.spec));
}
