/**
 * The CRD's CEL rules (x-kubernetes-validations), re-checked in TypeScript so that the operator
 * and `modelship validate` catch the same mistakes offline. Each message is the CRD rule's
 * message, word for word (a unit test keeps the two lists equal).
 */
import type { ModelScheme } from '../../../contract/model-source.js';
import type { StorageSpec } from './types.js';

/** One violated rule: where, and the CRD's message for it. */
export interface RuleViolation {
  path: string;
  message: string;
}

/** A rule: its CRD message and a check over the whole (possibly malformed) object. */
export interface CelRule {
  message: string;
  check(obj: Obj): string[];
}

type Obj = Record<string, unknown>;

const DNS_1035 = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const PVC_URI = /^pvc:\/\/[a-z0-9]([-a-z0-9.]*[a-z0-9])?\/[^/].*$/;
/** A `..` segment, also percent-encoded: it could leave a claim's directory or a bucket prefix. */
const DOT_DOT_SEGMENT = /\/([.]|%2[eE])([.]|%2[eE])(\/|[?#]|$)/;
/** S3's bucket naming rules (3-63 characters); the key is anything without whitespace. */
const S3_URI = /^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\/\S+$/;
const S3_IP_BUCKET = /^s3:\/\/[0-9]+[.][0-9]+[.][0-9]+[.][0-9]+\//;
/** Google Cloud Storage's bucket naming rules (3-63 characters; dotted names up to 222 are not taken). */
const GS_URI = /^gs:\/\/[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]\/\S+$/;
const OCI_TAG_OR_DIGEST = /^oci:\/\/[^/]+\/[^:@]+(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|@[^@]+)$/;
/** The distribution spec's reference grammar: a host[:port], lowercase repository path components. */
const OCI_REFERENCE =
  /^oci:\/\/[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?([.][a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?)*(:[0-9]{1,5})?\/[a-z0-9]+([._-][a-z0-9]+|__[a-z0-9]+|-+[a-z0-9]+)*(\/[a-z0-9]+([._-][a-z0-9]+|__[a-z0-9]+|-+[a-z0-9]+)*)*([:@].*)?$/;

/**
 * The schemes each spec.model.storage field applies to. Any other scheme is refused with the
 * field's name, so a setting that would silently do nothing (pathStyle with gs://) is caught.
 */
export const STORAGE_FIELD_SCHEMES: Record<keyof StorageSpec, readonly ModelScheme[]> = {
  secretRef: ['s3', 'gs', 'oci'],
  endpoint: ['s3', 'gs'],
  region: ['s3'],
  pathStyle: ['s3'],
  plainHTTP: ['oci'],
  caBundleRef: ['https', 's3', 'gs', 'oci'],
  timeoutSeconds: ['http', 'https', 's3', 'gs', 'oci'],
};

function obj(value: unknown): Obj | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Obj) : undefined;
}

function at(root: Obj, ...keys: string[]): unknown {
  let cur: unknown = root;
  for (const k of keys) cur = obj(cur)?.[k];
  return cur;
}

/** A rule on spec.model.uri: `violated` sees the URI when it is a string. */
function uriRule(message: string, violated: (uri: string) => boolean): CelRule {
  return {
    message,
    check: (o) => {
      const uri = at(o, 'spec', 'model', 'uri');
      return typeof uri === 'string' && violated(uri) ? ['spec.model.uri'] : [];
    },
  };
}

/** A rule on spec.model.profile.uri: `violated` sees the URI when it is a string. */
function profileUriRule(message: string, violated: (uri: string) => boolean): CelRule {
  return {
    message,
    check: (o) => {
      const uri = at(o, 'spec', 'model', 'profile', 'uri');
      return typeof uri === 'string' && violated(uri) ? ['spec.model.profile.uri'] : [];
    },
  };
}

/** An http(s) URL with a host, and nothing but non-space characters after it. */
const HTTP_URL = /^https?:\/\/[^\s/?#]+([/?#]\S*)?$/;

/** A rule on spec.monitoring.payloadLogging.url: `violated` sees the URL when it is a string. */
function payloadUrlRule(message: string, violated: (url: string) => boolean): CelRule {
  return {
    message,
    check: (o) => {
      const url = at(o, 'spec', 'monitoring', 'payloadLogging', 'url');
      return typeof url === 'string' && violated(url) ? ['spec.monitoring.payloadLogging.url'] : [];
    },
  };
}

/** "s3://, gs:// and oci://", as the CRD's messages list schemes. */
function schemeList(schemes: readonly ModelScheme[]): string {
  const names = schemes.map((s) => `${s}://`);
  return names.length === 1 ? names[0]! : `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;
}

/** A rule on spec.model.storage.<field>: set only for a URI of one of its schemes. */
function storageRule(field: string, schemes: readonly ModelScheme[]): CelRule {
  return {
    message: `spec.model.storage.${field}: applies only to ${schemeList(schemes)} URIs`,
    check: (o) => {
      const uri = at(o, 'spec', 'model', 'uri');
      const value = at(o, 'spec', 'model', 'storage', field);
      if (typeof uri !== 'string' || value === undefined) return [];
      return schemes.some((s) => uri.startsWith(`${s}://`)) ? [] : [`spec.model.storage.${field}`];
    },
  };
}

/** The spec.autoscaling targets that turn on the operator's request autoscaling (not an HPA). */
const REQUEST_TARGETS = ['targetConcurrency', 'targetRequestsPerSecond'] as const;

/** Request autoscaling's settings: each does something only with a request target. */
const REQUEST_WINDOWS = ['scaleUpWindowSeconds', 'scaleDownWindowSeconds'] as const;

/** Scale to zero's settings: each does something only with minReplicas 0. */
const SCALE_TO_ZERO_SETTINGS = ['idleSeconds', 'activationTimeoutSeconds'] as const;

function hasRequestTarget(autoscaling: Obj): boolean {
  return REQUEST_TARGETS.some((t) => autoscaling[t] !== undefined);
}

/** Whether spec.traffic.router is the builtin router (its default). */
function builtinRouter(root: Obj): boolean {
  const router = at(root, 'spec', 'traffic', 'router');
  return router === undefined || router === 'builtin';
}

/** A rule on spec.autoscaling.<field>: `violated` sees spec.autoscaling when it is an object. */
function autoscalingRule(field: string, message: string, violated: (autoscaling: Obj) => boolean): CelRule {
  return {
    message,
    check: (o) => {
      const autoscaling = obj(at(o, 'spec', 'autoscaling'));
      return autoscaling && violated(autoscaling) ? [`spec.autoscaling.${field}`] : [];
    },
  };
}

/** `<path>.minReplicas` must not exceed `<path>.maxReplicas` (spec.autoscaling, the router's HPA). */
function minNotAboveMaxRule(path: string): CelRule {
  return {
    message: `${path}.minReplicas must be less than or equal to ${path}.maxReplicas`,
    check: (o) => {
      const bounds = obj(at(o, ...path.split('.')));
      return typeof bounds?.minReplicas === 'number' &&
        typeof bounds.maxReplicas === 'number' &&
        bounds.minReplicas > bounds.maxReplicas
        ? [`${path}.minReplicas`]
        : [];
    },
  };
}

function envItems(root: Obj): [number, Obj][] {
  const env = at(root, 'spec', 'server', 'env');
  if (!Array.isArray(env)) return [];
  return env.flatMap((e, i) => (obj(e) ? [[i, obj(e)!] as [number, Obj]] : []));
}

/** Every CEL rule of the CRD, each returning the paths it finds violated. */
export const CEL_RULES: CelRule[] = [
  {
    message: 'metadata.name: must be at most 52 characters, so that <name>-<revision> fits in 63',
    check: (o) => {
      const name = at(o, 'metadata', 'name');
      return typeof name === 'string' && name.length > 52 ? ['metadata.name'] : [];
    },
  },
  {
    message:
      "metadata.name: must be a DNS-1035 label (lowercase letters, digits and '-', starting with a letter), because it names Services",
    check: (o) => {
      const name = at(o, 'metadata', 'name');
      return typeof name === 'string' && !DNS_1035.test(name) ? ['metadata.name'] : [];
    },
  },
  {
    message: 'spec.replicas and spec.autoscaling are mutually exclusive: set one of them',
    check: (o) =>
      at(o, 'spec', 'replicas') !== undefined && at(o, 'spec', 'autoscaling') !== undefined ? ['spec.replicas'] : [],
  },
  uriRule(
    'spec.model.uri: scheme must be one of https, http, pvc, file, s3, gs, oci',
    (uri) => !/^(https|http|pvc|file|s3|gs|oci):\/\//.test(uri),
  ),
  uriRule(
    'spec.model.uri: must not carry credentials (user:password@), which would be visible in the pod spec and status; keep them in the Secret named by spec.model.storage.secretRef (s3://, gs://, oci://)',
    (uri) => /^[a-z0-9]+:\/\/[^/?#]*@/.test(uri),
  ),
  uriRule("spec.model.uri: must not contain '..' path segments", (uri) => DOT_DOT_SEGMENT.test(uri)),
  uriRule(
    'spec.model.uri: a pvc URI must be pvc://<claim>/<path>',
    (uri) => uri.startsWith('pvc://') && !PVC_URI.test(uri),
  ),
  uriRule(
    "spec.model.uri: an s3 URI must be s3://<bucket>/<key>, the bucket 3-63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit, without '..' and not an IP address",
    (uri) =>
      uri.startsWith('s3://') && (!S3_URI.test(uri) || /^s3:\/\/[^/]*[.][.]/.test(uri) || S3_IP_BUCKET.test(uri)),
  ),
  uriRule(
    "spec.model.uri: a gs URI must be gs://<bucket>/<object>, the bucket 3-63 lowercase letters, digits, dots, hyphens and underscores, starting and ending with a letter or digit, without '..'",
    (uri) => uri.startsWith('gs://') && (!GS_URI.test(uri) || /^gs:\/\/[^/]*[.][.]/.test(uri)),
  ),
  uriRule(
    'spec.model.uri: an oci URI must end in a tag or a digest: oci://<registry>/<repository>:<tag> or oci://<registry>/<repository>@sha256:<digest>',
    (uri) => uri.startsWith('oci://') && !OCI_TAG_OR_DIGEST.test(uri),
  ),
  uriRule(
    'spec.model.uri: an oci digest must be sha256:<64 lowercase hex characters>',
    (uri) => uri.startsWith('oci://') && uri.includes('@') && !/@sha256:[a-f0-9]{64}$/.test(uri),
  ),
  uriRule(
    "spec.model.uri: an oci URI must be oci://<registry>[:<port>]/<repository>, the repository lowercase path components of letters and digits joined by '.', '_', '__' or '-'",
    (uri) => uri.startsWith('oci://') && !OCI_REFERENCE.test(uri),
  ),
  {
    message:
      "spec.model.profile.uri: must have the scheme of spec.model.uri (and a pvc:// URI its claim), because the profile is fetched with the model's storage settings",
    check: (o) => {
      const uri = at(o, 'spec', 'model', 'uri');
      const profile = at(o, 'spec', 'model', 'profile', 'uri');
      if (typeof uri !== 'string' || typeof profile !== 'string') return [];
      const prefix = (uri.startsWith('pvc://') ? /^pvc:\/\/[^/]+\// : /^[a-z0-9]+:\/\//).exec(uri)?.[0] ?? '';
      return profile.startsWith(prefix) ? [] : ['spec.model.profile.uri'];
    },
  },
  profileUriRule(
    'spec.model.profile.uri: must not carry credentials (user:password@), which would be visible in the pod spec and status',
    (uri) => /^[a-z0-9]+:\/\/[^/?#]*@/.test(uri),
  ),
  profileUriRule("spec.model.profile.uri: must not contain '..' path segments", (uri) => DOT_DOT_SEGMENT.test(uri)),
  ...Object.entries(STORAGE_FIELD_SCHEMES).map(([field, schemes]) => storageRule(field, schemes)),
  {
    message: 'spec.server.env: value and valueFrom are mutually exclusive',
    check: (o) =>
      envItems(o)
        .filter(([, e]) => e.value !== undefined && e.valueFrom !== undefined)
        .map(([i]) => `spec.server.env[${i}]`),
  },
  {
    message: 'spec.server.env.name: names starting with MODELSHIP_ are reserved for the operator',
    check: (o) =>
      envItems(o)
        .filter(([, e]) => typeof e.name === 'string' && e.name.startsWith('MODELSHIP_'))
        .map(([i]) => `spec.server.env[${i}].name`),
  },
  {
    message: 'spec.server.env.valueFrom: set exactly one of secretKeyRef and configMapKeyRef',
    check: (o) =>
      envItems(o)
        .filter(
          ([, e]) =>
            obj(e.valueFrom) &&
            (obj(e.valueFrom)!.secretKeyRef !== undefined) === (obj(e.valueFrom)!.configMapKeyRef !== undefined),
        )
        .map(([i]) => `spec.server.env[${i}].valueFrom`),
  },
  minNotAboveMaxRule('spec.autoscaling'),
  {
    message:
      'spec.autoscaling: set at most one of targetCPUUtilizationPercentage, targetConcurrency and targetRequestsPerSecond',
    check: (o) => {
      const autoscaling = obj(at(o, 'spec', 'autoscaling'));
      if (!autoscaling) return [];
      const targets = ['targetCPUUtilizationPercentage', ...REQUEST_TARGETS].filter(
        (t) => autoscaling[t] !== undefined,
      );
      return targets.length > 1 ? ['spec.autoscaling'] : [];
    },
  },
  autoscalingRule(
    'minReplicas',
    'spec.autoscaling.minReplicas: 0 (scale to zero) needs targetConcurrency or targetRequestsPerSecond, because an HPA on CPU cannot scale to zero',
    (a) => a.minReplicas === 0 && !hasRequestTarget(a),
  ),
  autoscalingRule(
    'minReplicas',
    'spec.autoscaling.minReplicas: 0 (scale to zero) needs spec.autoscaling.idleSeconds, the seconds without a request before a revision scales to zero',
    (a) => a.minReplicas === 0 && a.idleSeconds === undefined,
  ),
  ...SCALE_TO_ZERO_SETTINGS.map((field) =>
    autoscalingRule(
      field,
      `spec.autoscaling.${field}: applies only with spec.autoscaling.minReplicas 0 (scale to zero)`,
      (a) => a[field] !== undefined && a.minReplicas !== 0,
    ),
  ),
  ...REQUEST_WINDOWS.map((field) =>
    autoscalingRule(
      field,
      `spec.autoscaling.${field}: applies only with targetConcurrency or targetRequestsPerSecond (request autoscaling)`,
      (a) => a[field] !== undefined && !hasRequestTarget(a),
    ),
  ),
  ...REQUEST_TARGETS.map((target): CelRule => ({
    message: `spec.autoscaling.${target}: needs spec.traffic.router builtin, because request autoscaling runs on the builtin router's figures`,
    check: (o) =>
      at(o, 'spec', 'autoscaling', target) !== undefined && !builtinRouter(o) ? [`spec.autoscaling.${target}`] : [],
  })),
  {
    message: 'spec.rollout.steps: weights must be strictly rising',
    check: (o) => {
      const steps = at(o, 'spec', 'rollout', 'steps');
      if (!Array.isArray(steps)) return [];
      const weights = steps.map((s) => obj(s)?.weight);
      if (!weights.every((w) => typeof w === 'number')) return [];
      return (weights as number[]).some((w, i) => i > 0 && w <= weights[i - 1]!) ? ['spec.rollout.steps'] : [];
    },
  },
  {
    message: 'spec.rollout.progressDeadlineSeconds: must be greater than spec.rollout.analysis.intervalSeconds',
    check: (o) => {
      const deadline = at(o, 'spec', 'rollout', 'progressDeadlineSeconds');
      const interval = at(o, 'spec', 'rollout', 'analysis', 'intervalSeconds');
      return typeof deadline === 'number' && typeof interval === 'number' && deadline <= interval
        ? ['spec.rollout.progressDeadlineSeconds']
        : [];
    },
  },
  {
    message: 'spec.traffic.gatewayRef is required when spec.traffic.router is gateway-api, and not allowed otherwise',
    check: (o) => {
      const traffic = obj(at(o, 'spec', 'traffic'));
      if (!traffic) return [];
      return (traffic.router === 'gateway-api') !== (traffic.gatewayRef !== undefined)
        ? ['spec.traffic.gatewayRef']
        : [];
    },
  },
  {
    message: 'spec.traffic.routerAutoscaling: applies only with spec.traffic.router builtin',
    check: (o) =>
      at(o, 'spec', 'traffic', 'routerAutoscaling') !== undefined && !builtinRouter(o)
        ? ['spec.traffic.routerAutoscaling']
        : [],
  },
  minNotAboveMaxRule('spec.traffic.routerAutoscaling'),
  {
    message:
      'spec.rollout.analysis.minAccuracy: needs spec.monitoring.accuracy, which joins the labels the accuracy is computed from',
    check: (o) =>
      at(o, 'spec', 'rollout', 'analysis', 'minAccuracy') !== undefined &&
      at(o, 'spec', 'monitoring', 'accuracy') === undefined
        ? ['spec.rollout.analysis.minAccuracy']
        : [],
  },
  {
    message: 'spec.rollout.analysis.minLabels: applies only with spec.rollout.analysis.minAccuracy',
    check: (o) => {
      const analysis = obj(at(o, 'spec', 'rollout', 'analysis'));
      return analysis && analysis.minLabels !== undefined && analysis.minAccuracy === undefined
        ? ['spec.rollout.analysis.minLabels']
        : [];
    },
  },
  {
    message: 'spec.monitoring: needs spec.traffic.router builtin, because the builtin router observes the traffic',
    check: (o) => (at(o, 'spec', 'monitoring') !== undefined && !builtinRouter(o) ? ['spec.monitoring'] : []),
  },
  payloadUrlRule(
    'spec.monitoring.payloadLogging.url: must be an http:// or https:// URL',
    (url) => !HTTP_URL.test(url),
  ),
  payloadUrlRule(
    'spec.monitoring.payloadLogging.url: must not carry credentials (user:password@), which would be visible in the routes and status',
    (url) => /^[a-z0-9]+:\/\/[^/?#]*@/.test(url),
  ),
  {
    message: 'spec.rollout.analysis.metrics.thresholdRange: min must not exceed max',
    check: (o) => {
      const metrics = at(o, 'spec', 'rollout', 'analysis', 'metrics');
      if (!Array.isArray(metrics)) return [];
      return metrics.flatMap((m, i) => {
        const range = obj(obj(m)?.thresholdRange);
        return typeof range?.min === 'number' && typeof range.max === 'number' && range.min > range.max
          ? [`spec.rollout.analysis.metrics[${i}].thresholdRange`]
          : [];
      });
    },
  },
];

/** The CEL rules violated by this object, each with its path and message. */
export function celViolations(object: unknown): RuleViolation[] {
  const root = obj(object);
  if (!root) return [];
  return CEL_RULES.flatMap((rule) =>
    rule.check(root).map((path) => ({ path, message: withoutPathPrefix(rule.message, path) })),
  );
}

/** "spec.model.uri: scheme must..." → "scheme must..." when the path already says where. */
function withoutPathPrefix(message: string, path: string): string {
  const colon = message.indexOf(': ');
  if (colon > 0 && path.replace(/\[\d+\]/g, '') === message.slice(0, colon)) return message.slice(colon + 2);
  return message;
}
