/**
 * The pure half of the local pod runner: which pods to run, with what environment, and which local
 * processes stand behind a Service. No I/O here; runner.ts feeds it objects from the API server.
 */
import { createHash } from 'node:crypto';
import { isAbsolute, join, relative, resolve } from 'node:path';

import { SERVER_ENV } from '../../contract/env.js';
import type { KubeObject } from '../../operator/src/kube/client.js';

/** Annotation kwok puts on the Nodes it manages. */
export const KWOK_NODE_ANNOTATION = 'kwok.x-k8s.io/node';

/**
 * Image repositories (no tag or digest) whose containers are run as the local inference server: the
 * one Modelship image, which model pods and router pods both run (the operator's default).
 */
export const DEFAULT_SERVER_REPOSITORIES = ['ghcr.io/modelship/modelship'];

/** A host directory standing in for a container path, from `--mount /models=examples/models`. */
export interface Mount {
  /** Absolute path inside the container, e.g. /models. */
  containerPath: string;
  /** Absolute path on this machine. */
  hostPath: string;
}

/** The container fields the runner reads. */
export interface ContainerSpec {
  name: string;
  image?: string;
  env?: { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string }; [k: string]: unknown } }[];
  ports?: { name?: string; containerPort: number }[];
}

/** The pod fields the runner reads. */
export interface PodLike extends KubeObject {
  spec?: {
    nodeName?: string;
    containers?: ContainerSpec[];
    terminationGracePeriodSeconds?: number;
    serviceAccountName?: string;
    automountServiceAccountToken?: boolean;
  };
  status?: { phase?: string; podIP?: string };
}

/** The Service fields the proxy reads. */
export interface ServiceLike extends KubeObject {
  spec?: { selector?: Record<string, string>; ports?: { name?: string; port: number; targetPort?: number | string }[] };
}

/**
 * Parses `--mount` values of the form `<containerPath>=<hostPath>` (host path relative to base).
 * Throws naming the value when it is malformed.
 */
export function parseMount(text: string, base: string): Mount {
  const eq = text.indexOf('=');
  const containerPath = eq < 0 ? '' : text.slice(0, eq).replace(/\/+$/, '');
  const host = eq < 0 ? '' : text.slice(eq + 1);
  if (!containerPath.startsWith('/') || host === '') {
    throw new Error(`parse --mount ${JSON.stringify(text)}: expected /container/path=host/path`);
  }
  return { containerPath, hostPath: resolve(base, host) };
}

/**
 * The host path for a container path under one of the mounts (the longest matching mount wins),
 * or undefined when no mount covers it. Paths escaping the mount with `..` are not covered.
 */
export function hostPathFor(containerPath: string, mounts: readonly Mount[]): string | undefined {
  const sorted = [...mounts].sort((a, b) => b.containerPath.length - a.containerPath.length);
  for (const m of sorted) {
    const rel = relative(m.containerPath, containerPath);
    if (rel === '' || (!rel.startsWith('..') && !isAbsolute(rel))) return join(m.hostPath, rel);
  }
  return undefined;
}

/**
 * Rewrites a file:// model URI (or a bare absolute path) from container to host paths. Other
 * schemes pass through. A file URI outside every mount is an error: the container could read it,
 * the local process cannot.
 */
export function mapModelUri(uri: string, mounts: readonly Mount[]): string {
  const isFile = uri.startsWith('file://');
  if (!isFile && !uri.startsWith('/')) return uri;
  const path = isFile ? decodeURIComponent(new URL(uri).pathname) : uri;
  const host = hostPathFor(path, mounts);
  if (host === undefined) {
    throw new Error(
      `map model URI ${uri}: no --mount covers ${path} (have: ${mounts.map((m) => m.containerPath).join(', ') || 'none'})`,
    );
  }
  return isFile ? `file://${host}` : host;
}

/** The repository of an image reference: without `@digest` and without a `:tag` after the last `/`. */
export function imageRepository(image: string): string {
  const noDigest = image.split('@')[0]!;
  const slash = noDigest.lastIndexOf('/');
  const colon = noDigest.lastIndexOf(':');
  return colon > slash ? noDigest.slice(0, colon) : noDigest;
}

/** The first container whose image is one of the server repositories, if any. */
export function serverContainerOf(pod: PodLike, repositories: readonly string[]): ContainerSpec | undefined {
  return pod.spec?.containers?.find((c) => c.image !== undefined && repositories.includes(imageRepository(c.image)));
}

/**
 * Whether the runner should have a process for this pod: bound to a kwok node, Running, not being
 * deleted, and running the server image.
 */
export function shouldRun(pod: PodLike, kwokNodes: ReadonlySet<string>, repositories: readonly string[]): boolean {
  return (
    pod.metadata.deletionTimestamp === undefined &&
    pod.spec?.nodeName !== undefined &&
    kwokNodes.has(pod.spec.nodeName) &&
    pod.status?.phase === 'Running' &&
    serverContainerOf(pod, repositories) !== undefined
  );
}

/** Local settings of one pod's process. */
export interface LocalSettings {
  httpPort: number;
  metricsPort: number;
  /** Writable per-pod directory (cache and termination log live under it). */
  podDir: string;
  mounts: readonly Mount[];
  /** Cluster DNS for the process (see ClusterDns); absent: names resolve as on this machine. */
  dns?: ClusterDns;
  /** Kubeconfig file with the pod's ServiceAccount token, when the pod gets API credentials. */
  kubeconfig?: string;
}

/**
 * How a local process reaches the cluster's addresses: a preload module resolving Service names
 * through the address file and connecting to pod IPs through the pod address file.
 */
export interface ClusterDns {
  /** Compiled preload module (dist/test/localpods/dnsPreload.js), loaded with NODE_OPTIONS=--import. */
  preload: string;
  /** JSON file `{"namespace/name": "127.a.b.c"}` the runner keeps current. */
  addressesFile: string;
  /** JSON file `{"<pod IP>:<container port>": "127.0.0.1:<local port>"}` the runner keeps current. */
  podAddressesFile: string;
}

/** Environment variable naming the address file, read by the DNS preload. */
export const ADDRESSES_ENV = 'MODELSHIP_LOCALPODS_ADDRESSES';
/** Environment variable naming the pod address file, read by the DNS preload. */
export const POD_ADDRESSES_ENV = 'MODELSHIP_LOCALPODS_POD_ADDRESSES';
/** Environment variable holding the pod's namespace, for bare Service names. */
export const POD_NAMESPACE_ENV = 'MODELSHIP_LOCALPODS_NAMESPACE';

/** The environment of a pod's local process, and what could not be carried over. */
export interface ProcessEnv {
  env: Record<string, string>;
  warnings: string[];
}

/** Resolves a downward-API fieldRef the runner supports, or undefined. */
function fieldValue(pod: PodLike, fieldPath: string): string | undefined {
  switch (fieldPath) {
    case 'metadata.name':
      return pod.metadata.name;
    case 'metadata.namespace':
      return pod.metadata.namespace;
    case 'status.podIP':
      return pod.status?.podIP ?? '';
    default:
      return undefined;
  }
}

/**
 * The environment for the local server process of one container: its env values and supported
 * fieldRefs, then the local overrides (loopback host, free ports, per-pod cache dir and termination
 * log, model URI mapped through the mounts). One worker unless the container asks for more: several
 * pods share this machine's cores. Throws when the model URI cannot be mapped.
 */
export function processEnvFor(pod: PodLike, container: ContainerSpec, local: LocalSettings): ProcessEnv {
  const env: Record<string, string> = {};
  const warnings: string[] = [];
  const where = `pod ${pod.metadata.namespace}/${pod.metadata.name} container ${container.name}`;
  for (const e of container.env ?? []) {
    if (e.value !== undefined) {
      env[e.name] = e.value;
    } else if (e.valueFrom?.fieldRef) {
      const value = fieldValue(pod, e.valueFrom.fieldRef.fieldPath);
      if (value === undefined)
        warnings.push(
          `${where}: env ${e.name}: fieldRef ${e.valueFrom.fieldRef.fieldPath} is not supported locally, left unset`,
        );
      else env[e.name] = value;
    } else if (e.valueFrom) {
      warnings.push(
        `${where}: env ${e.name}: ${Object.keys(e.valueFrom).join(', ')} is not supported locally, left unset`,
      );
    } else {
      env[e.name] = '';
    }
  }
  // The model and its drift profile are fetched from the same kinds of URI: both map.
  for (const name of [SERVER_ENV.modelUri, SERVER_ENV.profileUri]) {
    if (env[name] !== undefined) env[name] = mapModelUri(env[name], local.mounts);
  }
  // Local pods share one small machine: one serving process with one inference thread each,
  // unless the pod asks for more.
  env.MODELSHIP_PROCESSES ??= '1';
  env.MODELSHIP_WORKERS ??= '1';
  Object.assign(env, {
    MODELSHIP_HOST: '127.0.0.1',
    MODELSHIP_PORT: String(local.httpPort),
    MODELSHIP_METRICS_PORT: String(local.metricsPort),
    MODELSHIP_CACHE_DIR: join(local.podDir, 'cache'),
    MODELSHIP_TERMINATION_LOG: join(local.podDir, 'termination-log'),
  });
  if (local.dns) {
    // Appended, so a pod's own NODE_OPTIONS still apply.
    env.NODE_OPTIONS = [env.NODE_OPTIONS, `--import=${local.dns.preload}`].filter(Boolean).join(' ');
    env[ADDRESSES_ENV] = local.dns.addressesFile;
    env[POD_ADDRESSES_ENV] = local.dns.podAddressesFile;
    env[POD_NAMESPACE_ENV] = pod.metadata.namespace ?? 'default';
  }
  if (local.kubeconfig !== undefined) env.KUBECONFIG = local.kubeconfig;
  return { env, warnings };
}

/**
 * Whether labels satisfy a Service's equality selector (an empty or missing selector matches nothing, as in
 * Kubernetes).
 */
export function selectorMatches(
  selector: Record<string, string> | undefined,
  labels: Record<string, string> | undefined,
): boolean {
  const entries = Object.entries(selector ?? {});
  return entries.length > 0 && entries.every(([k, v]) => labels?.[k] === v);
}

/** Keys (`namespace/name`) of the pods a Service selects, in a stable order. */
export function podsBehind(service: ServiceLike, pods: readonly PodLike[]): string[] {
  return pods
    .filter(
      (p) =>
        p.metadata.namespace === service.metadata.namespace &&
        selectorMatches(service.spec?.selector, p.metadata.labels),
    )
    .map((p) => `${p.metadata.namespace}/${p.metadata.name}`)
    .sort();
}

/**
 * Round robin over a changing, sorted backend list: the first backend after the previous pick,
 * wrapping around; undefined when there is none. Keyed by name, so backends coming and going
 * between picks never skip or repeat one unfairly.
 */
export function nextBackend(backends: readonly string[], previous: string | undefined): string | undefined {
  return backends.find((b) => previous === undefined || b > previous) ?? backends[0];
}

/**
 * Where a pod's container ports are served on this machine: `<pod IP>:<containerPort>` →
 * `127.0.0.1:<local port>` for the ports named `http` and `metrics` (the server image's), so what
 * the product sends to a pod IP (the router's probes of starting pods, labels forwarded to peer
 * routers) reaches the pod's local process. Empty while the pod has no IP.
 */
export function podEndpointsOf(
  pod: PodLike,
  container: ContainerSpec,
  local: { httpPort: number; metricsPort: number },
): Record<string, string> {
  const ip = pod.status?.podIP;
  if (!ip) return {};
  const localPorts: Record<string, number> = { http: local.httpPort, metrics: local.metricsPort };
  const out: Record<string, string> = {};
  for (const p of container.ports ?? []) {
    const to = p.name === undefined ? undefined : localPorts[p.name];
    if (to !== undefined) out[`${ip}:${p.containerPort}`] = `127.0.0.1:${to}`;
  }
  return out;
}

/** The local `{host, port}` a connection to `host:port` goes to instead, or undefined to connect as asked. */
export function podEndpointOf(
  host: string,
  port: number,
  endpoints: Readonly<Record<string, string>>,
): { host: string; port: number } | undefined {
  const to = endpoints[`${host}:${port}`];
  if (to === undefined) return undefined;
  const colon = to.lastIndexOf(':');
  return { host: to.slice(0, colon), port: Number(to.slice(colon + 1)) };
}

/** The pod volume fields the runner emulates. */
export interface VolumeSpec {
  name: string;
  emptyDir?: object;
  secret?: { secretName: string; items?: { key: string; path: string }[] };
  downwardAPI?: { items?: { path: string; fieldRef?: { fieldPath: string } }[] };
  projected?: { sources?: ProjectedSource[] };
  [source: string]: unknown;
}

/** One source of a projected volume; Secret sources are emulated, a token source means the API token volume. */
export interface ProjectedSource {
  serviceAccountToken?: object;
  secret?: { name: string; optional?: boolean; items?: { key: string; path: string }[] };
  [source: string]: unknown;
}

/** The names of the Secrets a pod's volumes read (secret volumes and projected Secret sources). */
export function secretNamesOf(pod: { spec?: { volumes?: VolumeSpec[] } }): string[] {
  const names = new Set<string>();
  for (const v of pod.spec?.volumes ?? []) {
    if (v.secret) names.add(v.secret.secretName);
    for (const source of v.projected?.sources ?? []) if (source.secret) names.add(source.secret.name);
  }
  return [...names];
}

/** A file to write before the process starts (contents as the container would see them). */
export interface VolumeFile {
  path: string;
  content: Buffer;
}

/** Host directories standing in for a container's volume mounts, and the files to put in them. */
export interface LocalVolumes {
  mounts: Mount[];
  files: VolumeFile[];
  /** Secrets (name) the files need that were not given; the pod cannot start yet. */
  missingSecrets: string[];
  warnings: string[];
}

/** metadata.name/namespace, metadata.labels['k'] and metadata.annotations['k'] for downwardAPI files. */
function downwardValue(pod: PodLike, fieldPath: string): string | undefined {
  const m = /^metadata\.(labels|annotations)\['([^']+)'\]$/.exec(fieldPath);
  if (m) return m[1] === 'labels' ? pod.metadata.labels?.[m[2]!] : pod.metadata.annotations?.[m[2]!];
  return fieldValue(pod, fieldPath);
}

/**
 * Emulates the container's volume mounts under `<podDir>/volumes/<volume>`: emptyDir as an empty
 * directory, secret as its keys' decoded files (all keys, or the listed items), downwardAPI as its
 * fieldRef values. secrets maps Secret name to its base64 `data`. The ServiceAccount token volume
 * the API server adds (projected, with a serviceAccountToken source) is left out silently: the
 * process gets its credentials as a kubeconfig instead. Other volume types are left out with a warning.
 */
export function localVolumesFor(
  pod: PodLike & { spec?: { volumes?: VolumeSpec[] } },
  container: ContainerSpec & { volumeMounts?: { name: string; mountPath: string }[] },
  podDir: string,
  secrets: ReadonlyMap<string, Record<string, string> | undefined>,
): LocalVolumes {
  const out: LocalVolumes = { mounts: [], files: [], missingSecrets: [], warnings: [] };
  const where = `pod ${pod.metadata.namespace}/${pod.metadata.name} container ${container.name}`;
  for (const vm of container.volumeMounts ?? []) {
    const volume = pod.spec?.volumes?.find((v) => v.name === vm.name);
    const dir = join(podDir, 'volumes', vm.name);
    if (!volume) {
      out.warnings.push(`${where}: volumeMount ${vm.name}: no such volume, not mounted`);
    } else if (volume.projected?.sources?.some((source) => source.serviceAccountToken !== undefined)) {
      continue;
    } else if (
      volume.projected?.sources?.length &&
      volume.projected.sources.every((source) => source.secret !== undefined)
    ) {
      // Secret sources only (the router's auth tokens): as the kubelet does, a missing optional
      // Secret or key leaves its file out, a missing required one keeps the pod from starting.
      for (const { secret } of volume.projected.sources) {
        const { name, optional = false } = secret!;
        const data = secrets.get(name);
        if (data === undefined) {
          if (!optional) out.missingSecrets.push(name);
          continue;
        }
        for (const item of secret!.items ?? Object.keys(data).map((key) => ({ key, path: key }))) {
          const value = data[item.key];
          if (value !== undefined)
            out.files.push({ path: join(dir, item.path), content: Buffer.from(value, 'base64') });
          else if (!optional) out.missingSecrets.push(`${name} (key ${item.key})`);
        }
      }
      out.mounts.push({ containerPath: vm.mountPath, hostPath: dir });
    } else if (volume.emptyDir) {
      out.mounts.push({ containerPath: vm.mountPath, hostPath: dir });
    } else if (volume.secret) {
      const data = secrets.get(volume.secret.secretName);
      if (data === undefined) {
        out.missingSecrets.push(volume.secret.secretName);
        continue;
      }
      const items = volume.secret.items ?? Object.keys(data).map((key) => ({ key, path: key }));
      for (const item of items) {
        const value = data[item.key];
        if (value === undefined) out.missingSecrets.push(`${volume.secret.secretName} (key ${item.key})`);
        else out.files.push({ path: join(dir, item.path), content: Buffer.from(value, 'base64') });
      }
      out.mounts.push({ containerPath: vm.mountPath, hostPath: dir });
    } else if (volume.downwardAPI) {
      for (const item of volume.downwardAPI.items ?? []) {
        const value = item.fieldRef ? downwardValue(pod, item.fieldRef.fieldPath) : undefined;
        if (value === undefined)
          out.warnings.push(`${where}: volume ${vm.name}: ${item.path} is not supported locally, left out`);
        else out.files.push({ path: join(dir, item.path), content: Buffer.from(value) });
      }
      out.mounts.push({ containerPath: vm.mountPath, hostPath: dir });
    } else {
      const kind = Object.keys(volume)
        .filter((k) => k !== 'name')
        .join(', ');
      out.warnings.push(`${where}: volume ${vm.name} (${kind}) is not supported locally, ${vm.mountPath} not mounted`);
    }
  }
  return out;
}

/** Rewrites env values that are absolute paths under one of the mounts to the host path. */
export function mapEnvPaths(env: Record<string, string>, mounts: readonly Mount[]): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env).map(([k, v]) => [k, v.startsWith('/') ? (hostPathFor(v, mounts) ?? v) : v]),
  );
}

/**
 * The ServiceAccount whose token the pod's process gets, or undefined when it gets none. As in
 * Kubernetes: the pod's automountServiceAccountToken wins, else the ServiceAccount's, else true.
 * serviceAccountAutomount is the ServiceAccount's field (undefined when unset or not read).
 */
export function serviceAccountFor(pod: PodLike, serviceAccountAutomount: boolean | undefined): string | undefined {
  const automount = pod.spec?.automountServiceAccountToken ?? serviceAccountAutomount ?? true;
  return automount ? (pod.spec?.serviceAccountName ?? 'default') : undefined;
}

/**
 * Candidate loopback address number `attempt` of a Service: 127.a.b.c from a hash of the seed
 * (the cluster's API server URL) and the Service key, so it is stable for a Service across runs
 * and two runners of different clusters rarely meet. Never in 127.0.0.0/24 (127.0.0.1 is everyone's)
 * nor an all-zero or all-one last byte.
 */
export function serviceAddressCandidate(seed: string, service: string, attempt: number): string {
  const h = createHash('sha256').update(`${seed}\n${service}\n${attempt}`).digest();
  return `127.${1 + (h[0]! % 254)}.${h[1]!}.${1 + (h[2]! % 254)}`;
}

/**
 * The port a Service is served on at its cluster address: the port named http, else the first one
 * (only the server's HTTP API is proxied); undefined for a Service without ports.
 */
export function clusterPortOf(service: ServiceLike): number | undefined {
  const ports = service.spec?.ports ?? [];
  return (ports.find((p) => p.name === 'http') ?? ports[0])?.port;
}

/**
 * The loopback address of a cluster DNS name of a Service, as a pod in podNamespace resolves it:
 * `<svc>.<ns>.svc.cluster.local`, `<svc>.<ns>.svc`, `<svc>.<ns>` and bare `<svc>` (the pod's own
 * namespace). addresses maps `namespace/name` to the address. Undefined for any other name.
 */
export function clusterAddressOf(
  hostname: string,
  podNamespace: string,
  addresses: Readonly<Record<string, string>>,
): string | undefined {
  const labels = hostname.toLowerCase().replace(/\.$/, '').split('.');
  const svcAt = labels.indexOf('svc');
  const suffix = svcAt < 0 ? [] : labels.slice(svcAt);
  if (svcAt >= 0 && !(suffix.length === 1 || suffix.join('.') === 'svc.cluster.local')) return undefined;
  const names = svcAt < 0 ? labels : labels.slice(0, svcAt);
  const key =
    names.length === 2
      ? `${names[1]}/${names[0]}`
      : names.length === 1 && svcAt < 0
        ? `${podNamespace}/${names[0]}`
        : undefined;
  return key === undefined ? undefined : addresses[key];
}
