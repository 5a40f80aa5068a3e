/**
 * Validate a ModelDeployment exactly as far as we can offline: the CRD's OpenAPI schema with ajv
 * (defaults applied, unknown fields reported), then the CRD's CEL rules re-checked in TypeScript.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { celViolations } from './rules.js';
import { findCrdPath, openApiSchemaOf, readCrd, toJsonSchema } from './schema.js';
import { API_VERSION, KIND, type ModelDeployment } from './types.js';

/** One problem with a manifest: a dotted path (spec.model.sha256) and what is wrong there. */
export interface ValidationError {
  path: string;
  message: string;
}

/** The outcome of a validation; `value` is the object with schema defaults applied. */
export interface ValidationResult {
  ok: boolean;
  errors: ValidationError[];
  value?: ModelDeployment;
}

// ajv-formats is CommonJS; under NodeNext its default import is the module object.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

/** Clearer words for the patterns users get wrong most. */
const PATTERN_HINTS: Record<string, string> = {
  '^[a-f0-9]{64}$': 'must be 64 lowercase hex characters (the SHA-256 of the model file)',
  '^[A-Za-z_][A-Za-z0-9_]*$': 'must be a C identifier (letters, digits and _, not starting with a digit)',
  '^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$':
    'must be a Kubernetes quantity such as 500m, 2 or 512Mi',
  '^[1-9][0-9]{0,9}(Ki|Mi|Gi|k|M|G)?$': 'must be a size in bytes such as 1048576, 512Ki, 64Mi or 1G',
  '^https?://[^\\s/?#@]+([/?#]\\S*)?$':
    'must be an http:// or https:// URL without credentials, such as https://minio.example:9000',
  '^[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*$':
    "must be a Kubernetes object name (lowercase letters, digits, '-' and '.')",
  '^[a-z0-9]([-_a-z0-9]*[a-z0-9])?$': 'must be a region name such as us-east-1',
  '^[-._a-zA-Z0-9]+$': "must be a ConfigMap key (letters, digits, '-', '_' and '.')",
};

/** What a validator checks beyond metadata and spec. */
export interface ValidatorOptions {
  /**
   * Also check status against the schema. Off by default: status is the operator's own output,
   * and a status problem must never make a user's spec look invalid.
   */
  checkStatus?: boolean;
}

/** Compile a validator for the CRD at `crdPath`. */
export function compileValidator(
  crdPath: string = findCrdPath(),
  options: ValidatorOptions = {},
): (obj: unknown) => ValidationResult {
  const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false });
  addFormats(ajv);
  const check: ValidateFunction = ajv.compile(toJsonSchema(openApiSchemaOf(readCrd(crdPath))));
  return (obj: unknown) => {
    const value = structuredClone(obj);
    const errors: ValidationError[] = [];
    const root = value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : undefined;
    if (root && !options.checkStatus) delete root.status;
    if (root?.apiVersion !== API_VERSION) errors.push({ path: 'apiVersion', message: `must be ${API_VERSION}` });
    if (root?.kind !== KIND) errors.push({ path: 'kind', message: `must be ${KIND}` });
    const name = (root?.metadata as Record<string, unknown> | undefined)?.name;
    if (typeof name !== 'string' || name === '') errors.push({ path: 'metadata.name', message: 'is required' });
    if (!check(value)) errors.push(...schemaErrors(check.errors ?? []));
    errors.push(...celViolations(value));
    const unique = errors.filter((e, i) => errors.findIndex((f) => f.path === e.path && f.message === e.message) === i);
    return unique.length === 0
      ? { ok: true, errors: [], value: value as ModelDeployment }
      : { ok: false, errors: unique };
  };
}

let defaultValidator: ((obj: unknown) => ValidationResult) | undefined;

/** Validate metadata and spec against the CRD found by findCrdPath (compiled once per process). */
export function validateModelDeployment(obj: unknown): ValidationResult {
  defaultValidator ??= compileValidator();
  return defaultValidator(obj);
}

function dotted(instancePath: string): string {
  return instancePath
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, part) => (/^\d+$/.test(part) ? `${acc}[${part}]` : acc ? `${acc}.${part}` : part), '');
}

function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

/** Schema errors in our words; a length error is dropped where the pattern already explains it. */
function schemaErrors(raw: ErrorObject[]): ValidationError[] {
  const patterned = new Set(raw.filter((e) => e.keyword === 'pattern').map((e) => e.instancePath));
  return raw
    .filter((e) => !((e.keyword === 'minLength' || e.keyword === 'maxLength') && patterned.has(e.instancePath)))
    .flatMap(toValidationError);
}

function toValidationError(e: ErrorObject): ValidationError[] {
  const path = dotted(e.instancePath);
  switch (e.keyword) {
    case 'required':
      return [{ path: join(path, (e.params as { missingProperty: string }).missingProperty), message: 'is required' }];
    case 'additionalProperties':
      return [
        { path: join(path, (e.params as { additionalProperty: string }).additionalProperty), message: 'unknown field' },
      ];
    case 'enum':
      return [
        { path, message: `must be one of: ${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')}` },
      ];
    case 'pattern': {
      const pattern = (e.params as { pattern: string }).pattern;
      return [{ path, message: PATTERN_HINTS[pattern] ?? `must match the pattern ${pattern}` }];
    }
    case 'if':
    case 'anyOf':
      return [];
    default:
      return [{ path: path || '(root)', message: e.message ?? e.keyword }];
  }
}
