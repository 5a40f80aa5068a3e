/**
 * The process kubelet for kwok clusters: watches Modelship's pods, Services and the Nodes, runs one
 * local process of the server image (model server or router) per Running pod on a kwok node, and
 * serves every managed Service on a loopback port (services.json holds the map) and on its own
 * loopback address and real port, which its cluster DNS names resolve to inside the local pods
 * (addresses.json, read by dnsPreload.ts). Pods that mount a ServiceAccount token get one from the
 * TokenRequest API in a kubeconfig of their own, so they run with exactly their RBAC. Decisions
 * come from podspec.ts; this file only wires watches, processes and listeners together.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

import { KubeConfig } from '@kubernetes/client-node';
import { Registry } from 'prom-client';

import { KubeClient, isStatus } from '../../operator/src/kube/client.js';
import { Informer, keyOf } from '../../operator/src/kube/informer.js';
import { MANAGED_SELECTOR } from '../../operator/src/desired/names.js';
import { freePorts } from '../cluster/processes.js';
import { PodProcess, signalGroup } from './podprocess.js';
import {
  KWOK_NODE_ANNOTATION,
  clusterPortOf,
  localVolumesFor,
  mapEnvPaths,
  podEndpointsOf,
  podsBehind,
  processEnvFor,
  serverContainerOf,
  secretNamesOf,
  serviceAccountFor,
  serviceAddressCandidate,
  shouldRun,
  type Mount,
  type PodLike,
  type ServiceLike,
  type VolumeSpec,
} from './podspec.js';
import { ServiceProxy, type ServiceBackends } from './proxy.js';

/** Settings of a PodRunner. */
export interface PodRunnerOptions {
  kc: KubeConfig;
  /** Repository root (the server script is dist/server-image/src/main.js under it). */
  root: string;
  /** State directory: per-pod dirs, logs/, services.json, pids.json. */
  stateDir: string;
  mounts: readonly Mount[];
  /** Image repositories run as the inference server. */
  repositories: readonly string[];
  /** Watch only this namespace (default: all). */
  namespace?: string;
  log: (message: string) => void;
}

/** Lifetime of the ServiceAccount tokens given to local pods; a process reads its token once, at start. */
const TOKEN_SECONDS = 86_400;
/** Cluster addresses tried per Service before giving up (another runner may hold one). */
const ADDRESS_ATTEMPTS = 8;

interface Running {
  uid: string;
  proc: PodProcess;
  httpPort: number;
  metricsPort: number;
  /** Where its pod IP's ports are served here (podspec.ts podEndpointsOf). */
  endpoints: Record<string, string>;
}

/** Runs local processes for kwok pods and proxies Services to them. */
export class PodRunner {
  private pods!: Informer;
  private services!: Informer;
  private nodes!: Informer;
  private readonly running = new Map<string, Running>();
  private readonly stopping = new Set<Promise<void>>();
  private readonly notes = new Map<string, string>();
  private api!: KubeClient;
  private readonly pids = new Map<string, number>();
  private readonly proxy = new ServiceProxy((service) => this.backendsOf(service));
  private readonly urls = new Map<string, string>();
  /** Service key → its cluster address, or null when binding failed (said once). */
  private readonly addresses = new Map<string, string | null>();
  private pass: Promise<void> = Promise.resolve();
  private dirty = false;
  private closed = false;
  private written = false;
  private synced = false;
  private stopped?: Promise<void>;

  constructor(private readonly opts: PodRunnerOptions) {}

  /** Path of the Service → local URL map. */
  get servicesFile(): string {
    return join(this.opts.stateDir, 'services.json');
  }

  /** Path of the Service → cluster address map the local pods' DNS preload reads. */
  get addressesFile(): string {
    return join(this.opts.stateDir, 'addresses.json');
  }

  /** Path of the pod IP:port → local address map the local pods' preload reads. */
  get podAddressesFile(): string {
    return join(this.opts.stateDir, 'pod-addresses.json');
  }

  private get pidsFile(): string {
    return join(this.opts.stateDir, 'pids.json');
  }

  /** Kills processes a previous runner left behind, starts the watches and waits for the first lists. */
  async start(): Promise<void> {
    mkdirSync(join(this.opts.stateDir, 'logs'), { recursive: true });
    this.killOrphans();
    const api = await KubeClient.create(this.opts.kc, new Registry());
    this.api = api;
    if (this.closed) return;
    const onError = (what: string) => (err: unknown) =>
      this.opts.log(`watch ${what}: ${err instanceof Error ? err.message : String(err)}`);
    const scope = this.opts.namespace === undefined ? '/api/v1' : `/api/v1/namespaces/${this.opts.namespace}`;
    this.pods = new Informer(api, {
      path: `${scope}/pods`,
      apiVersion: 'v1',
      kind: 'Pod',
      labelSelector: MANAGED_SELECTOR,
      resyncMs: 30_000,
      onError: onError('pods'),
    });
    this.services = new Informer(api, {
      path: `${scope}/services`,
      apiVersion: 'v1',
      kind: 'Service',
      labelSelector: MANAGED_SELECTOR,
      resyncMs: 30_000,
      onError: onError('services'),
    });
    this.nodes = new Informer(api, {
      path: '/api/v1/nodes',
      apiVersion: 'v1',
      kind: 'Node',
      resyncMs: 30_000,
      onError: onError('nodes'),
    });
    for (const inf of [this.pods, this.services, this.nodes]) {
      inf.on(() => this.schedule());
      inf.start();
    }
    await Promise.all([this.pods.waitForSync(), this.services.waitForSync(), this.nodes.waitForSync()]);
    this.synced = true;
    this.schedule();
    await this.pass;
  }

  /** The current Service → local URL map (`namespace/name` keys). */
  serviceUrls(): Record<string, string> {
    return Object.fromEntries([...this.urls].sort(([a], [b]) => a.localeCompare(b)));
  }

  /** The current Service → cluster address map (`namespace/name` keys), as local pods resolve them. */
  serviceAddresses(): Record<string, string> {
    return Object.fromEntries(
      [...this.addresses].filter((e): e is [string, string] => e[1] !== null).sort(([a], [b]) => a.localeCompare(b)),
    );
  }

  /** Keys (`namespace/name`) of the pods whose local process answers ready, sorted. */
  readyPods(): string[] {
    return [...this.running]
      .filter(([, r]) => r.proc.ready)
      .map(([key]) => key)
      .sort();
  }

  /**
   * Every running pod's metrics address as Prometheus' Kubernetes pod discovery would report it, in
   * file_sd's form: its loopback metrics port, and the meta labels relabelings read (namespace, pod
   * name, the metrics port's name, each pod label with its name sanitised), so a scrape config can
   * apply a PodMonitor's relabelings unchanged.
   */
  scrapeTargets(): { targets: string[]; labels: Record<string, string> }[] {
    return [...this.running]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([key, r]) => {
        const pod = this.pods.get(key);
        const labels: Record<string, string> = {
          __meta_kubernetes_namespace: pod?.metadata.namespace ?? '',
          __meta_kubernetes_pod_name: pod?.metadata.name ?? '',
          __meta_kubernetes_pod_container_port_name: 'metrics',
        };
        for (const [k, v] of Object.entries(pod?.metadata.labels ?? {}))
          labels[`__meta_kubernetes_pod_label_${k.replace(/[^a-zA-Z0-9_]/g, '_')}`] = v;
        return { targets: [`127.0.0.1:${r.metricsPort}`], labels };
      });
  }

  /** Pid of the local process of pod `namespace/name`, if one runs. */
  pidOf(pod: string): number | undefined {
    return this.running.get(pod)?.proc.pid;
  }

  /** Stops watches, listeners and every child (SIGTERM, then SIGKILL after its grace period). */
  stop(): Promise<void> {
    this.stopped ??= this.stopEverything();
    return this.stopped;
  }

  private async stopEverything(): Promise<void> {
    this.closed = true;
    await Promise.all([this.pods?.stop(), this.services?.stop(), this.nodes?.stop()]);
    await this.pass;
    await this.proxy.closeAll();
    await Promise.all([...[...this.running.values()].map((r) => r.proc.stop()), ...this.stopping]);
    this.running.clear();
    rmSync(this.servicesFile, { force: true });
    rmSync(this.addressesFile, { force: true });
    rmSync(this.podAddressesFile, { force: true });
    rmSync(this.pidsFile, { force: true });
  }

  /** Runs one reconcile pass after the current one; passes never overlap. */
  private schedule(): void {
    // Before every cache is filled a pass would see pods without their nodes and decide wrongly.
    if (this.dirty || this.closed || !this.synced) return;
    this.dirty = true;
    this.pass = this.pass.then(async () => {
      this.dirty = false;
      if (this.closed) return;
      try {
        await this.reconcile();
      } catch (err) {
        this.opts.log(`reconcile: ${err instanceof Error ? err.message : String(err)}`);
      }
    });
  }

  private async reconcile(): Promise<void> {
    const kwokNodes = new Set(
      this.nodes
        .list()
        .filter((n) => n.metadata.annotations?.[KWOK_NODE_ANNOTATION] !== undefined)
        .map((n) => n.metadata.name),
    );
    const wanted = new Map<string, PodLike>();
    for (const pod of this.pods.list() as PodLike[]) {
      if (shouldRun(pod, kwokNodes, this.opts.repositories)) wanted.set(keyOf(pod), pod);
    }
    for (const [key, r] of this.running) {
      if (wanted.get(key)?.metadata.uid !== r.uid) this.stopPod(key, r);
    }
    for (const [key, pod] of wanted) {
      if (!this.running.has(key)) await this.startPod(key, pod);
    }
    for (const key of this.notes.keys()) if (!wanted.has(key)) this.notes.delete(key);
    await this.syncServices();
  }

  /** Logs a pod's reason for not starting once, not on every pass that retries it. */
  private note(key: string, message: string): void {
    if (this.notes.get(key) === message) return;
    this.notes.set(key, message);
    this.opts.log(`pod ${key}: not started: ${message}`);
  }

  /**
   * The base64 data of each Secret the pod's volumes name, projected sources included (undefined when it does not
   * exist).
   */
  private async secretsOf(
    pod: PodLike & { spec?: { volumes?: VolumeSpec[] } },
  ): Promise<Map<string, Record<string, string> | undefined>> {
    const out = new Map<string, Record<string, string> | undefined>();
    for (const name of secretNamesOf(pod)) {
      try {
        const secret = await this.api.request<{ data?: Record<string, string> }>({
          method: 'GET',
          path: `/api/v1/namespaces/${pod.metadata.namespace}/secrets/${name}`,
        });
        out.set(name, secret.data ?? {});
      } catch (err) {
        if (!isStatus(err, 404))
          throw new Error(
            `get Secret ${pod.metadata.namespace}/${name}: ${err instanceof Error ? err.message : String(err)}`,
            { cause: err },
          );
        out.set(name, undefined);
      }
    }
    return out;
  }

  /**
   * The ServiceAccount whose token the pod mounts, or undefined; reads the ServiceAccount only when
   * the pod leaves the choice to it. Throws naming the ServiceAccount when it cannot be read.
   */
  private async serviceAccountOf(pod: PodLike): Promise<string | undefined> {
    if (pod.spec?.automountServiceAccountToken !== undefined) return serviceAccountFor(pod, undefined);
    const name = `${pod.metadata.namespace ?? 'default'}/${pod.spec?.serviceAccountName ?? 'default'}`;
    const [ns, sa] = name.split('/') as [string, string];
    try {
      const found = await this.api.request<{ automountServiceAccountToken?: boolean }>({
        method: 'GET',
        path: `/api/v1/namespaces/${ns}/serviceaccounts/${sa}`,
      });
      return serviceAccountFor(pod, found.automountServiceAccountToken);
    } catch (err) {
      throw new Error(`get ServiceAccount ${name}: ${err instanceof Error ? err.message : String(err)}`, {
        cause: err,
      });
    }
  }

  /**
   * Writes `file`: a kubeconfig with a token of ServiceAccount sa bound to the pod (it dies with the
   * pod, as the kubelet's projected token does). Throws naming the ServiceAccount when no token is issued.
   */
  private async writeKubeconfig(pod: PodLike, sa: string, file: string): Promise<void> {
    const ns = pod.metadata.namespace ?? 'default';
    let token: string | undefined;
    try {
      const res = await this.api.request<{ status?: { token?: string } }>({
        method: 'POST',
        path: `/api/v1/namespaces/${ns}/serviceaccounts/${sa}/token`,
        body: {
          apiVersion: 'authentication.k8s.io/v1',
          kind: 'TokenRequest',
          spec: {
            expirationSeconds: TOKEN_SECONDS,
            boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: pod.metadata.name, uid: pod.metadata.uid },
          },
        },
      });
      token = res.status?.token;
    } catch (err) {
      throw new Error(
        `create token for ServiceAccount ${ns}/${sa}: ${err instanceof Error ? err.message : String(err)}`,
        { cause: err },
      );
    }
    if (!token) throw new Error(`create token for ServiceAccount ${ns}/${sa}: no token in the answer`);
    const cluster = this.opts.kc.getCurrentCluster();
    if (!cluster) throw new Error("write pod kubeconfig: the runner's kubeconfig has no current cluster");
    const kc = new KubeConfig();
    kc.loadFromClusterAndUser(cluster, { name: `system:serviceaccount:${ns}:${sa}`, token });
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, kc.exportConfig(), { mode: 0o600 });
  }

  /**
   * Starts the pod's process, or notes why it cannot start yet; a later pass retries (a missing
   * Secret or ServiceAccount may appear, a spec may change).
   */
  private async startPod(key: string, pod: PodLike): Promise<void> {
    const uid = pod.metadata.uid ?? '';
    const container = serverContainerOf(pod, this.opts.repositories)!;
    const podDir = join(this.opts.stateDir, pod.metadata.namespace ?? 'default', pod.metadata.name);
    const volumes = localVolumesFor(pod, container, podDir, await this.secretsOf(pod));
    if (volumes.missingSecrets.length > 0)
      return this.note(key, `waiting for Secret ${volumes.missingSecrets.join(', ')}`);
    let serviceAccount: string | undefined;
    try {
      serviceAccount = await this.serviceAccountOf(pod);
    } catch (err) {
      return this.note(key, `waiting for API credentials: ${err instanceof Error ? err.message : String(err)}`);
    }
    const kubeconfig = serviceAccount === undefined ? undefined : join(podDir, 'kubeconfig');
    const [httpPort, metricsPort] = (await freePorts(2)) as [number, number];
    let env: Record<string, string>;
    try {
      const dns = {
        preload: join(this.opts.root, 'dist/test/localpods/dnsPreload.js'),
        addressesFile: this.addressesFile,
        podAddressesFile: this.podAddressesFile,
      };
      const built = processEnvFor(pod, container, {
        httpPort,
        metricsPort,
        podDir,
        mounts: this.opts.mounts,
        dns,
        kubeconfig,
      });
      [...volumes.warnings, ...built.warnings].forEach((w) => this.opts.log(`warning: ${w}`));
      env = mapEnvPaths(built.env, volumes.mounts);
    } catch (err) {
      return this.note(key, err instanceof Error ? err.message : String(err));
    }
    if (serviceAccount !== undefined) {
      // Last, so a pod that cannot start for another reason never gets a token.
      try {
        await this.writeKubeconfig(pod, serviceAccount, kubeconfig!);
      } catch (err) {
        return this.note(key, `waiting for API credentials: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    this.notes.delete(key);
    mkdirSync(join(podDir, 'cache'), { recursive: true });
    for (const m of volumes.mounts) mkdirSync(m.hostPath, { recursive: true });
    for (const f of volumes.files) {
      mkdirSync(dirname(f.path), { recursive: true });
      writeFileSync(f.path, f.content, { mode: 0o600 });
    }
    const proc = new PodProcess({
      key,
      env,
      httpPort,
      metricsPort,
      script: join(this.opts.root, 'dist/server-image/src/main.js'),
      logFile: join(this.opts.stateDir, 'logs', `${pod.metadata.namespace}_${pod.metadata.name}.log`),
      graceMs: (pod.spec?.terminationGracePeriodSeconds ?? 30) * 1000,
      log: this.opts.log,
      onReadyChange: () => this.schedule(),
      onPid: (pid) => this.recordPid(key, pid),
    });
    this.running.set(key, {
      uid,
      proc,
      httpPort,
      metricsPort,
      endpoints: podEndpointsOf(pod, container, { httpPort, metricsPort }),
    });
    this.writePodAddresses();
    proc.start();
  }

  private stopPod(key: string, r: Running): void {
    this.running.delete(key);
    this.writePodAddresses();
    this.opts.log(`pod ${key}: gone, stopping its process`);
    const done = r.proc.stop().then(() => {
      this.stopping.delete(done);
      this.opts.log(`pod ${key}: process stopped`);
    });
    this.stopping.add(done);
  }

  private backendsOf(serviceKey: string): ServiceBackends {
    const service = this.services.get(serviceKey) as ServiceLike | undefined;
    if (!service) return { ready: [], starting: false };
    const procs = podsBehind(service, this.pods.list() as PodLike[]).flatMap((key) => {
      const r = this.running.get(key);
      return r ? [{ key, r }] : [];
    });
    return {
      ready: procs.filter(({ r }) => r.proc.ready).map(({ key, r }) => ({ key, port: r.httpPort })),
      starting: procs.some(({ r }) => r.proc.starting),
    };
  }

  private async syncServices(): Promise<void> {
    const keys = new Set(this.services.list().map((s) => keyOf(s)));
    let changed = !this.written;
    for (const key of this.proxy.services()) {
      if (!keys.has(key)) {
        await this.proxy.close(key);
        this.urls.delete(key);
        this.addresses.delete(key);
        changed = true;
      }
    }
    for (const key of keys) {
      if (this.urls.has(key)) continue;
      this.urls.set(key, await this.proxy.open(key));
      changed = true;
    }
    for (const key of keys) {
      if (this.addresses.has(key)) continue;
      this.addresses.set(key, await this.bindClusterAddress(key));
      changed = true;
    }
    if (changed) this.writeServices();
  }

  /** Serves the Service on its cluster address and port; null (said once) when that cannot be done. */
  private async bindClusterAddress(key: string): Promise<string | null> {
    const port = clusterPortOf(this.services.get(key) as ServiceLike);
    if (port === undefined) return null;
    const seed = this.opts.kc.getCurrentCluster()?.server ?? '';
    const candidates = Array.from({ length: ADDRESS_ATTEMPTS }, (_, i) => serviceAddressCandidate(seed, key, i));
    try {
      return await this.proxy.bindClusterAddress(key, port, candidates);
    } catch (err) {
      this.opts.log(
        `warning: ${err instanceof Error ? err.message : String(err)}; local pods cannot reach this Service by its cluster DNS name ` +
          `(ports below 1024 need root or sysctl net.ipv4.ip_unprivileged_port_start=0); its 127.0.0.1 URL still works`,
      );
      return null;
    }
  }

  private writeServices(): void {
    this.written = true;
    const map = this.serviceUrls();
    const addresses = this.serviceAddresses();
    // Addresses first: a pod started in this pass may resolve a Service name at once.
    writeAtomically(this.addressesFile, JSON.stringify(addresses, null, 2) + '\n');
    writeAtomically(this.servicesFile, JSON.stringify(map, null, 2) + '\n');
    const lines = Object.entries(map).map(
      ([k, v]) => `  ${k.padEnd(40)} ${v}${addresses[k] ? `  (in pods: ${addresses[k]})` : ''}`,
    );
    this.opts.log(`services (${this.servicesFile}):\n${lines.join('\n') || '  (none)'}`);
  }

  private writePodAddresses(): void {
    const map = Object.assign({}, ...[...this.running.values()].map((r) => r.endpoints)) as Record<string, string>;
    writeAtomically(this.podAddressesFile, JSON.stringify(map, null, 2) + '\n');
  }

  private recordPid(key: string, pid: number | undefined): void {
    if (pid === undefined) this.pids.delete(key);
    else this.pids.set(key, pid);
    writeAtomically(this.pidsFile, JSON.stringify(Object.fromEntries(this.pids), null, 2) + '\n');
  }

  /** SIGKILLs processes recorded by a runner that died without cleaning up, if still ours (same script). */
  private killOrphans(): void {
    if (!existsSync(this.pidsFile)) return;
    const script = join(this.opts.root, 'dist/server-image/src/main.js');
    const recorded = JSON.parse(readFileSync(this.pidsFile, 'utf8')) as Record<string, number>;
    for (const [key, pid] of Object.entries(recorded)) {
      if (!cmdlineOf(pid).includes(script)) continue;
      this.opts.log(`pod ${key}: killing pid ${pid} left by a previous runner`);
      signalGroup(pid, 'SIGKILL');
    }
    rmSync(this.pidsFile, { force: true });
  }
}

function writeAtomically(path: string, text: string): void {
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}

/** A process's command line (NUL-separated), or '' when it is gone. */
function cmdlineOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return '';
  }
}
