/**
 * The CRD's CEL rules (x-kubernetes-validations), re-checked in TypeScript so that the operator
 * and `modelship validate` catch the same mistakes offline. Each message is the CRD rule's
 * message, word for word (a unit test keeps the two lists equal).
 */

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

function obj(value: unknown): Obj | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Obj) : undefined;
}

function at(root: Obj, ...keys: string[]): unknown {
  let cur: unknown = root;
  for (const k of keys) cur = obj(cur)?.[k];
  return cur;
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
  {
    message: 'spec.model.uri: scheme must be one of https, http, pvc, file',
    check: (o) => {
      const uri = at(o, 'spec', 'model', 'uri');
      return typeof uri === 'string' && !/^(https|http|pvc|file):\/\//.test(uri) ? ['spec.model.uri'] : [];
    },
  },
  {
    message: 'spec.model.uri: a pvc URI must be pvc://<claim>/<path>',
    check: (o) => {
      const uri = at(o, 'spec', 'model', 'uri');
      return typeof uri === 'string' && uri.startsWith('pvc://') && !PVC_URI.test(uri) ? ['spec.model.uri'] : [];
    },
  },
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
  {
    message: 'spec.autoscaling.minReplicas must be less than or equal to spec.autoscaling.maxReplicas',
    check: (o) => {
      const min = at(o, 'spec', 'autoscaling', 'minReplicas');
      const max = at(o, 'spec', 'autoscaling', 'maxReplicas');
      return typeof min === 'number' && typeof max === 'number' && min > max ? ['spec.autoscaling.minReplicas'] : [];
    },
  },
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
