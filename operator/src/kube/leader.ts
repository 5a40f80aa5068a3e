/**
 * Leader election on a coordination.k8s.io/v1 Lease, after client-go's leaderelection: try to
 * acquire every retry period; the leader renews every retry period and gives up if it could not
 * renew within the renew deadline; a follower takes over once the holder has not renewed for a
 * whole lease duration, measured on the follower's own clock (from when it last saw the lease
 * change) so clock skew between nodes does not matter. On graceful shutdown the leader releases
 * the lease so a follower takes over at its next retry instead of after a full lease duration.
 */
import { isStatus, type KubeApi, type KubeObject } from './client.js';
import { pathFor, resourceFor } from './resources.js';
import { microTime } from './events.js';

/** Timing and identity of one candidate. */
export interface LeaderOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  now?: () => number;
}

interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

type Lease = KubeObject & { spec?: LeaseSpec };

/** A leader-election candidate. */
export class LeaderElector {
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private readonly now: () => number;
  private readonly path: string;
  private readonly collectionPath: string;
  /** The lease as last seen, and when (local clock) its content last changed. */
  private observed?: Lease;
  private observedAt = 0;
  private leading = false;
  private stopped = false;
  private wake?: () => void;

  constructor(
    private readonly api: KubeApi,
    private readonly opts: LeaderOptions,
  ) {
    this.leaseDurationMs = opts.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = opts.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = opts.retryPeriodMs ?? 2_000;
    this.now = opts.now ?? Date.now;
    const type = resourceFor('coordination.k8s.io/v1', 'Lease');
    this.path = pathFor(type, opts.namespace, opts.name);
    this.collectionPath = pathFor(type, opts.namespace);
  }

  /** True while this candidate holds the lease. */
  isLeader(): boolean {
    return this.leading;
  }

  /**
   * Competes until it leads, calls onStarted, renews until it loses the lease or stop() is called;
   * calls onStopped when it loses the lease (not on stop()). Resolves when done.
   */
  async run(onStarted: () => void, onStopped: () => void, onError: (err: unknown) => void = () => {}): Promise<void> {
    while (!this.stopped && !this.leading) {
      try {
        if (await this.tryAcquireOrRenew()) break;
      } catch (err) {
        onError(err);
      }
      await this.sleep(this.retryPeriodMs);
    }
    if (this.stopped) return;
    onStarted();
    let lastRenew = this.now();
    while (!this.stopped) {
      await this.sleep(this.retryPeriodMs);
      if (this.stopped) return;
      let ok = false;
      try {
        ok = await this.tryAcquireOrRenew();
      } catch (err) {
        onError(err);
      }
      if (ok) lastRenew = this.now();
      else if (!this.stillHolder() || this.now() - lastRenew > this.renewDeadlineMs) {
        this.leading = false;
        onStopped();
        return;
      }
    }
  }

  /** Stops competing; a leader releases the lease so another candidate takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    if (!this.leading || !this.observed) return;
    this.leading = false;
    const released: Lease = {
      ...this.observed,
      spec: {
        ...this.observed.spec,
        holderIdentity: undefined,
        leaseDurationSeconds: 1,
        renewTime: microTime(this.now()),
      },
    };
    try {
      await this.api.request({ method: 'PUT', path: this.path, body: released });
    } catch (err) {
      // Another candidate may already have taken it; the lease then simply expires or is theirs.
      if (!isStatus(err, 409))
        throw new Error(`release Lease ${this.opts.namespace}/${this.opts.name}: ${(err as Error).message}`, {
          cause: err,
        });
    }
  }

  private stillHolder(): boolean {
    return this.observed?.spec?.holderIdentity === this.opts.identity;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  private observe(lease: Lease): void {
    if (this.observed?.metadata.resourceVersion !== lease.metadata.resourceVersion) this.observedAt = this.now();
    this.observed = lease;
  }

  /** One attempt; true when this candidate holds the lease afterwards. */
  async tryAcquireOrRenew(): Promise<boolean> {
    const now = this.now();
    const durationSeconds = Math.ceil(this.leaseDurationMs / 1000);
    let current: Lease;
    try {
      current = await this.api.request<Lease>({ method: 'GET', path: this.path });
    } catch (err) {
      if (!isStatus(err, 404))
        throw new Error(`get Lease ${this.opts.namespace}/${this.opts.name}: ${(err as Error).message}`, {
          cause: err,
        });
      const fresh: Lease = {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: this.opts.name, namespace: this.opts.namespace },
        spec: {
          holderIdentity: this.opts.identity,
          leaseDurationSeconds: durationSeconds,
          acquireTime: microTime(now),
          renewTime: microTime(now),
          leaseTransitions: 0,
        },
      };
      try {
        this.observe(await this.api.request<Lease>({ method: 'POST', path: this.collectionPath, body: fresh }));
      } catch (createErr) {
        if (isStatus(createErr, 409)) return false;
        throw new Error(`create Lease ${this.opts.namespace}/${this.opts.name}: ${(createErr as Error).message}`, {
          cause: createErr,
        });
      }
      this.leading = true;
      return true;
    }
    this.observe(current);
    const spec = current.spec ?? {};
    const holder = spec.holderIdentity ?? '';
    const ours = holder === this.opts.identity;
    const heldMs = (spec.leaseDurationSeconds ?? durationSeconds) * 1000;
    if (!ours && holder && now - this.observedAt < heldMs) return false;
    const next: Lease = {
      ...current,
      spec: {
        ...spec,
        holderIdentity: this.opts.identity,
        leaseDurationSeconds: durationSeconds,
        renewTime: microTime(now),
        acquireTime: ours ? spec.acquireTime : microTime(now),
        leaseTransitions: ours ? (spec.leaseTransitions ?? 0) : (spec.leaseTransitions ?? 0) + 1,
      },
    };
    try {
      this.observe(await this.api.request<Lease>({ method: 'PUT', path: this.path, body: next }));
    } catch (err) {
      if (isStatus(err, 409)) return false;
      throw new Error(`update Lease ${this.opts.namespace}/${this.opts.name}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    this.leading = true;
    return true;
  }
}
