/**
 * The shell half of the cold-start benchmark: what one start from zero left behind, read as it
 * happens or right after. Watches of the namespace's Deployments, pods and EndpointSlices record
 * when each change was first seen here; a TCP prober records when the revision Service's ClusterIP
 * first accepts a connection (kube-proxy programmed it); after the start, the kubelet's log (our
 * real node's, test/cluster), containerd's records (`ctr`) with /proc, and the server's own log
 * (`kubectl logs`) give the moments inside the node and the pod.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';

import { Watch, type KubeConfig } from '@kubernetes/client-node';

import { heldIn, holdsIn, kubeletMarks, processStart, routerDirect, serverMarks, type Marks } from './marks.js';

/** One change seen by a watch. */
interface Seen {
  at: number;
  kind: 'deployment' | 'pod' | 'slice' | 'configmap';
  name: string;
  /** Deployment: spec.replicas. */
  replicas?: number;
  /** Pod: its ModelDeployment and revision labels; slice: the Service it belongs to. */
  deployment?: string;
  revision?: string;
  service?: string;
  nodeName?: string;
  /** Pod: Ready condition True; slice: some endpoint ready. */
  ready?: boolean;
  /** ConfigMap: its data (the routes and the routers' stats). */
  data?: Record<string, string>;
}

/** Watches one namespace's Deployments, pods, EndpointSlices and ConfigMaps for the whole run. */
export class NamespaceWatch {
  readonly seen: Seen[] = [];
  private readonly controllers: AbortController[] = [];
  private stopped = false;

  private constructor(private readonly kc: KubeConfig) {}

  /** Starts the three watches; resolves once each is open. */
  static async start(kc: KubeConfig, ns: string): Promise<NamespaceWatch> {
    const w = new NamespaceWatch(kc);
    await Promise.all([
      w.watch(`/apis/apps/v1/namespaces/${ns}/deployments`, (o) => ({
        kind: 'deployment',
        name: o.metadata.name,
        replicas: o.spec?.replicas,
      })),
      w.watch(`/api/v1/namespaces/${ns}/pods`, (o) => ({
        kind: 'pod',
        name: o.metadata.name,
        deployment: o.metadata.labels?.['modelship.dev/deployment'],
        revision: o.metadata.labels?.['modelship.dev/revision'],
        nodeName: o.spec?.nodeName,
        ready: o.status?.conditions?.some(
          (c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True',
        ),
      })),
      w.watch(`/api/v1/namespaces/${ns}/configmaps`, (o) => ({
        kind: 'configmap',
        name: o.metadata.name,
        data: o.data ?? {},
      })),
      w.watch(`/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`, (o) => ({
        kind: 'slice',
        name: o.metadata.name,
        service: o.metadata.labels?.['kubernetes.io/service-name'],
        ready: (o.endpoints ?? []).some((e: { conditions?: { ready?: boolean } }) => e.conditions?.ready === true),
      })),
    ]);
    return w;
  }

  stop(): void {
    this.stopped = true;
    for (const c of this.controllers) c.abort();
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- raw watch objects, read field by field
  private async watch(path: string, read: (o: any) => Omit<Seen, 'at'>): Promise<void> {
    const open = async (): Promise<void> => {
      this.controllers.push(
        await new Watch(this.kc).watch(
          path,
          {},
          (type: string, obj: unknown) => {
            if (type !== 'DELETED') this.seen.push({ at: Date.now(), ...read(obj) });
          },
          () => {
            if (!this.stopped) void open();
          },
        ),
      );
    };
    await open();
  }

  /**
   * What the watches saw of revision `revision` (Deployment and Service `<md>-<revision>`) at or
   * after `since`: held (the routers' stats), scaled, the first pod's created/scheduled/Ready, its
   * endpoint ready, and the hold dropped from the routes.
   */
  marks(md: string, revision: string, since: number): { marks: Marks; pod?: string } {
    const after = this.seen.filter((s) => s.at >= since);
    const workload = `${md}-${revision}`;
    const marks: Marks = {};
    marks.scaled = after.find((s) => s.kind === 'deployment' && s.name === workload && (s.replicas ?? 0) >= 1)?.at;
    const pods = after.filter((s) => s.kind === 'pod' && s.deployment === md && s.revision === revision);
    const pod = pods[0]?.name;
    const ofPod = pods.filter((s) => s.name === pod);
    marks.podCreated = ofPod[0]?.at;
    marks.scheduled = ofPod.find((s) => s.nodeName)?.at;
    marks.podReady = ofPod.find((s) => s.ready)?.at;
    marks.endpointReady = after.find((s) => s.kind === 'slice' && s.service === workload && s.ready)?.at;
    marks.held = after.find(
      (s) => s.kind === 'configmap' && s.name === `${md}-stats` && heldIn(s.data, workload).held > 0,
    )?.at;
    // The hold dropped: the first routes without it, when the routes held the revision at the trigger.
    const isRoutes = (s: Seen): boolean => s.kind === 'configmap' && s.name === `${md}-routes`;
    const atTrigger = this.seen.filter((s) => isRoutes(s) && s.at < since).at(-1);
    if (holdsIn(atTrigger?.data, workload))
      marks.unheld = after.find((s) => isRoutes(s) && holdsIn(s.data, workload) === false)?.at;
    return { marks, pod };
  }

  /** `route`'s requests held ever, summed over the routers' latest stats documents seen up to `at`. */
  heldTotal(md: string, route: string, at: number): number {
    const last = this.seen.filter((s) => s.kind === 'configmap' && s.name === `${md}-stats` && s.at <= at).at(-1);
    return heldIn(last?.data, route).heldTotal;
  }
}

/**
 * Connects to host:port every 20 ms until a connection is accepted (then closes it at once);
 * resolves with that moment, or undefined when stopped first.
 */
export function firstConnect(host: string, port: number, signal: AbortSignal): Promise<number | undefined> {
  return new Promise((resolve) => {
    const attempt = (): void => {
      if (signal.aborted) return resolve(undefined);
      const socket = net.connect({ host, port });
      socket.once('connect', () => {
        const at = Date.now();
        socket.destroy();
        resolve(at);
      });
      socket.once('error', () => {
        socket.destroy();
        setTimeout(attempt, 20);
      });
    };
    attempt();
  });
}

/** `ctr` against the real node's containerd, in the kubelet's namespace. */
function ctr(socket: string, args: string[]): string {
  return execFileSync('ctr', ['--address', socket, '-n', 'k8s.io', ...args], { encoding: 'utf8' });
}

/** When the pid's process started (/proc), or undefined when it is gone. */
function startOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const uptime = readFileSync('/proc/uptime', 'utf8');
    return processStart(stat, uptime, Date.now());
  } catch {
    return undefined;
  }
}

/**
 * The node's side of a pod's start: when its sandbox (pause) and its server container's first
 * process started (/proc, through containerd's task list), and what the kubelet logged.
 */
export function nodeMarks(
  logsDir: string,
  containerdSocket: string,
  pod: { namespace: string; name: string; containerId?: string },
): Marks {
  const marks: Marks = {};
  const kubelet = readFileSync(join(logsDir, 'kubelet.log'), 'utf8').split('\n');
  const k = kubeletMarks(kubelet, `${pod.namespace}/${pod.name}`, new Date().getFullYear());
  marks.kubeletSaw = k.kubeletSaw;
  marks.readinessProbe = k.readinessProbe;
  marks.startupProbe = k.startupProbe;
  if (!pod.containerId) return marks;
  const tasks = new Map(
    ctr(containerdSocket, ['task', 'ls'])
      .split('\n')
      .slice(1)
      .map((l) => l.trim().split(/\s+/))
      .filter((f) => f.length >= 2)
      .map(([id, pid]) => [id!, Number(pid)]),
  );
  const info = JSON.parse(ctr(containerdSocket, ['containers', 'info', pod.containerId])) as {
    Spec?: { annotations?: Record<string, string> };
  };
  const sandbox = info.Spec?.annotations?.['io.kubernetes.cri.sandbox-id'];
  const sandboxPid = sandbox ? tasks.get(sandbox) : undefined;
  const containerPid = tasks.get(pod.containerId);
  if (sandboxPid) marks.sandboxStarted = startOf(sandboxPid);
  if (containerPid) marks.containerStarted = startOf(containerPid);
  return marks;
}

/** The server's own moments, from its log (`kubectl logs` through kubectl). */
export function serverLogMarks(kubectl: (args: string[]) => string, namespace: string, pod: string): Marks {
  const s = serverMarks(kubectl(['logs', '-n', namespace, pod]).split('\n'));
  return {
    listening: s.listening,
    modelFetched: s.modelFetched,
    sessionCreated: s.sessionCreated,
    warmedUp: s.warmedUp,
    modelReady: s.modelReady,
  };
}

/** When a router pod of `md` first sent `route`'s held requests straight to a starting pod (their logs). */
export function routerDirectMark(
  kubectl: (args: string[]) => string,
  namespace: string,
  md: string,
  route: string,
  since: number,
): number | undefined {
  const logs = kubectl([
    'logs',
    '-n',
    namespace,
    '-l',
    `app.kubernetes.io/component=router,modelship.dev/deployment=${md}`,
    '--tail=-1',
    '--prefix=false',
  ]);
  return routerDirect(logs.split('\n'), route, since);
}
