/**
 * The Deployment of one revision: the inference server serving that revision's model, hardened
 * (non-root, read-only root filesystem, no capabilities, seccomp) and probed on the V2 health API.
 */
import type { V1EnvVar, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import { SERVER_ENV } from '../../../contract/env.js';
import type { ModelDeployment } from '../api/types.js';
import type { RevisionPlan } from '../rollout/plan.js';
import { canonicalJson } from '../../../common/json.js';
import { ANNOTATION, revisionLabels, revisionName, revisionSelector } from './names.js';
import { ownerReferenceTo } from './owner.js';
import { httpProbe } from './probes.js';
import { containerSecurityContext, podSecurityContext } from './security.js';
import { HTTP_PORT, METRICS_PORT } from './service.js';
import { storageWiring } from './storage.js';
import type { DesiredOptions, KubeObject } from './types.js';

/** Where the server keeps downloaded models (an emptyDir). */
export const CACHE_DIR = '/var/cache/modelship';
/** Where pvc:// claims are mounted, one directory per claim (the server's MODELSHIP_PVC_ROOT). */
export const PVC_ROOT = '/mnt/pvc';
const AUTH_DIR = '/etc/modelship/auth';
/** The key of the auth token Secret when spec.auth.tokenSecretRef.key is not set. */
export const DEFAULT_TOKEN_KEY = 'token';
const SIGNATURE_DIR = '/etc/modelship/signature';
const PUBLIC_KEY_DIR = '/etc/modelship/public-key';

/** Requests and limits when neither the spec nor the operator options give any. */
export const DEFAULT_RESOURCES = {
  requests: { cpu: '250m', memory: '256Mi' },
  limits: { memory: '1Gi' },
};

const SIZE_UNITS: Record<string, number> = { '': 1, k: 1e3, M: 1e6, G: 1e9, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3 };

/**
 * Bytes in a size as the CRD's limits take it (digits and an optional k, M, G, Ki, Mi or Gi, as in
 * Kubernetes quantities), written for the server as a plain count: its own parser knows kb and mb,
 * not Ki and Mi. Undefined for anything else, which the CRD's pattern keeps out of the cluster.
 */
export function sizeBytes(size: string): number | undefined {
  const match = /^(\d+)(Ki|Mi|Gi|k|M|G)?$/.exec(size);
  return match === null ? undefined : Number(match[1]) * SIZE_UNITS[match[2] ?? ''];
}

/** The claim name of a pvc://<claim>/<path> URI, or undefined for other schemes. */
export function pvcClaimOf(uri: string): string | undefined {
  const match = /^pvc:\/\/([^/]+)\//.exec(uri);
  return match?.[1];
}

/** The Deployment running one revision. `replicas` is left out when an HPA owns the count. */
export function deploymentFor(md: ModelDeployment, rev: RevisionPlan, options: DesiredOptions): KubeObject {
  const { model, server = {}, auth } = rev.template;
  const labels = revisionLabels(md, rev.revision);
  const env: V1EnvVar[] = [
    { name: SERVER_ENV.modelUri, value: model.uri },
    { name: SERVER_ENV.sha256, value: model.sha256 },
    { name: SERVER_ENV.name, value: model.name ?? md.metadata.name },
    { name: SERVER_ENV.version, value: rev.revision },
    { name: SERVER_ENV.port, value: String(HTTP_PORT) },
    { name: SERVER_ENV.metricsPort, value: String(METRICS_PORT) },
    { name: SERVER_ENV.cacheDir, value: CACHE_DIR },
    { name: SERVER_ENV.pvcRoot, value: PVC_ROOT },
    // Keep serving briefly after SIGTERM while endpoints drop the pod, so no request is refused.
    { name: SERVER_ENV.shutdownDelayMs, value: '5000' },
  ];
  // The profile comes from the model's store (its scheme and, for pvc://, its claim: the CRD says
  // so), so the storage settings, credentials and claim mount below serve both.
  if (model.profile !== undefined) {
    env.push({ name: SERVER_ENV.profileUri, value: model.profile.uri });
    env.push({ name: SERVER_ENV.profileSha256, value: model.profile.sha256 });
  }
  if (server.batching?.maxBatchSize !== undefined)
    env.push({ name: SERVER_ENV.maxBatchSize, value: String(server.batching.maxBatchSize) });
  if (server.batching?.maxLatencyMs !== undefined)
    env.push({ name: SERVER_ENV.maxLatencyMs, value: String(server.batching.maxLatencyMs) });
  if (server.processes !== undefined) env.push({ name: SERVER_ENV.processes, value: String(server.processes) });
  if (server.workers !== undefined) env.push({ name: SERVER_ENV.workers, value: String(server.workers) });
  const maxRequestBytes =
    server.limits?.maxRequestSize === undefined ? undefined : sizeBytes(server.limits.maxRequestSize);
  const maxResponseBytes =
    server.limits?.maxResponseSize === undefined ? undefined : sizeBytes(server.limits.maxResponseSize);
  if (maxRequestBytes !== undefined) env.push({ name: SERVER_ENV.maxBodyBytes, value: String(maxRequestBytes) });
  if (maxResponseBytes !== undefined) env.push({ name: SERVER_ENV.maxResponseBytes, value: String(maxResponseBytes) });

  const volumes: V1Volume[] = [
    { name: 'model-cache', emptyDir: { sizeLimit: '4Gi' } },
    { name: 'tmp', emptyDir: { sizeLimit: '256Mi' } },
  ];
  const mounts: V1VolumeMount[] = [
    { name: 'model-cache', mountPath: CACHE_DIR },
    { name: 'tmp', mountPath: '/tmp' },
  ];
  const claim = pvcClaimOf(model.uri);
  if (claim !== undefined) {
    volumes.push({ name: 'model-pvc', persistentVolumeClaim: { claimName: claim, readOnly: true } });
    mounts.push({ name: 'model-pvc', mountPath: `${PVC_ROOT}/${claim}`, readOnly: true });
  }
  if (auth) {
    const key = auth.tokenSecretRef.key ?? DEFAULT_TOKEN_KEY;
    volumes.push({
      name: 'auth-token',
      secret: { secretName: auth.tokenSecretRef.name, items: [{ key, path: 'token' }], defaultMode: 0o440 },
    });
    mounts.push({ name: 'auth-token', mountPath: AUTH_DIR, readOnly: true });
    env.push({ name: SERVER_ENV.authTokenFile, value: `${AUTH_DIR}/token` });
  }
  const podAnnotations: Record<string, string> = {
    'prometheus.io/scrape': 'true',
    'prometheus.io/port': String(METRICS_PORT),
    'prometheus.io/path': '/metrics',
  };
  if (model.signature) {
    podAnnotations[ANNOTATION.signature] = model.signature.value;
    const key = model.signature.publicKeySecretRef.key ?? 'ed25519.pub';
    volumes.push({
      name: 'signature',
      downwardAPI: {
        items: [{ path: 'signature', fieldRef: { fieldPath: `metadata.annotations['${ANNOTATION.signature}']` } }],
      },
    });
    volumes.push({
      name: 'public-key',
      secret: {
        secretName: model.signature.publicKeySecretRef.name,
        items: [{ key, path: 'key.pem' }],
        defaultMode: 0o440,
      },
    });
    mounts.push({ name: 'signature', mountPath: SIGNATURE_DIR, readOnly: true });
    mounts.push({ name: 'public-key', mountPath: PUBLIC_KEY_DIR, readOnly: true });
    env.push({ name: SERVER_ENV.signaturePath, value: `${SIGNATURE_DIR}/signature` });
    env.push({ name: SERVER_ENV.publicKeyPath, value: `${PUBLIC_KEY_DIR}/key.pem` });
  }
  const storage = storageWiring(model, options.nodeCacheUrl);
  env.push(...storage.env);
  volumes.push(...storage.volumes);
  mounts.push(...storage.mounts);
  env.push(...((server.env ?? []) as V1EnvVar[]));

  const spec: Record<string, unknown> = {};
  if (rev.scale.replicas !== undefined) spec.replicas = rev.scale.replicas;
  Object.assign(spec, {
    revisionHistoryLimit: 2,
    progressDeadlineSeconds: 600,
    selector: { matchLabels: revisionSelector(md, rev.revision) },
    strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
    template: {
      metadata: { labels, annotations: podAnnotations },
      spec: {
        automountServiceAccountToken: false,
        enableServiceLinks: false,
        terminationGracePeriodSeconds: 30,
        securityContext: podSecurityContext({ fsGroup: true }),
        containers: [
          {
            name: 'server',
            image: server.image ?? options.serverImage,
            imagePullPolicy: server.imagePullPolicy ?? options.imagePullPolicy ?? 'IfNotPresent',
            ports: [
              { name: 'http', containerPort: HTTP_PORT, protocol: 'TCP' },
              { name: 'metrics', containerPort: METRICS_PORT, protocol: 'TCP' },
            ],
            env,
            resources: server.resources ?? options.defaultResources ?? DEFAULT_RESOURCES,
            // Model downloads and session creation can take minutes (600 probes of 1 s); liveness waits for
            // this. Probed every second, not every 5: a pod is Ready within a second of its model, which
            // is most of a start once the node cache has the model (bench/results/sources-real.md).
            startupProbe: httpProbe('/v2/health/live', 1, 600),
            readinessProbe: httpProbe('/v2/health/ready', 1, 3),
            livenessProbe: httpProbe('/v2/health/live', 10, 3),
            terminationMessagePolicy: 'FallbackToLogsOnError',
            securityContext: containerSecurityContext(),
            volumeMounts: mounts,
          },
        ],
        volumes,
      },
    },
  });
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: revisionName(md, rev.revision),
      namespace: md.metadata.namespace,
      labels,
      annotations: { [ANNOTATION.template]: canonicalJson(rev.template) },
      ownerReferences: [ownerReferenceTo(md)],
    },
    spec,
  };
}
