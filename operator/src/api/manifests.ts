/**
 * Validation of manifest files (multi-document YAML) for `modelship validate`: every
 * ModelDeployment document is checked against the CRD; other kinds are skipped.
 */
import { parseAllDocuments } from 'yaml';
import { revisionOf } from '../rollout/revision.js';
import { GROUP, KIND } from './types.js';
import { validateModelDeployment, type ValidationResult } from './validate.js';

/** The outcome for one file: one line per finding, and whether all its ModelDeployments are valid. */
export interface ManifestReport {
  ok: boolean;
  /**
   * `file: doc N: spec.model.sha256: must ...` for errors, `file: doc N: ModelDeployment ns/name: valid (revision
   * <rev>)` for passes.
   */
  lines: string[];
  checked: number;
}

/** Validate one file's text; `validate` is injectable for tests with another schema. */
export function validateManifest(
  file: string,
  text: string,
  validate: (obj: unknown) => ValidationResult = validateModelDeployment,
): ManifestReport {
  const lines: string[] = [];
  let ok = true;
  let checked = 0;
  parseAllDocuments(text).forEach((doc, i) => {
    const where = `${file}: doc ${i + 1}`;
    if (doc.errors.length > 0) {
      ok = false;
      lines.push(...doc.errors.map((e) => `${where}: yaml: ${e.message.split('\n')[0]}`));
      return;
    }
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) return;
    const head = typeof value === 'object' ? (value as Record<string, unknown>) : {};
    const ours = head.kind === KIND || (typeof head.apiVersion === 'string' && head.apiVersion.startsWith(`${GROUP}/`));
    if (!ours) return;
    checked += 1;
    const result = validate(value);
    const meta = (head.metadata ?? {}) as Record<string, unknown>;
    const name = `${KIND} ${typeof meta.namespace === 'string' ? `${meta.namespace}/` : ''}${String(meta.name ?? '(unnamed)')}`;
    if (result.ok) {
      // Defaults are applied exactly as the API server applies them, so this is the in-cluster revision.
      lines.push(`${where}: ${name}: valid (revision ${revisionOf(result.value!)})`);
    } else {
      ok = false;
      lines.push(...result.errors.map((e) => `${where}: ${e.path}: ${e.message}`));
    }
  });
  return { ok, lines, checked };
}
