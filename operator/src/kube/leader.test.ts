import { KubeApiError } from '../../../common/kubeapi.js';
import type { KubeApi, KubeObject, KubeRequest } from './client.js';
import { LeaderElector } from './leader.js';

/** An in-memory Lease endpoint with optimistic concurrency, like the API server's. */
class LeaseServer implements KubeApi {
  lease?: KubeObject;
  rv = 1;
  async request<T>(req: KubeRequest): Promise<T> {
    const body = req.body as KubeObject;
    if (req.method === 'GET') {
      if (!this.lease) throw new KubeApiError('not found', 404, 'NotFound');
      return structuredClone(this.lease) as T;
    }
    if (req.method === 'POST') {
      if (this.lease) throw new KubeApiError('exists', 409, 'AlreadyExists');
      this.lease = { ...body, metadata: { ...body.metadata, resourceVersion: String(++this.rv) } };
      return structuredClone(this.lease) as T;
    }
    if (req.method === 'PUT') {
      if (body.metadata.resourceVersion !== this.lease?.metadata.resourceVersion)
        throw new KubeApiError('conflict', 409, 'Conflict');
      this.lease = { ...body, metadata: { ...body.metadata, resourceVersion: String(++this.rv) } };
      return structuredClone(this.lease) as T;
    }
    throw new Error(`unexpected ${req.method}`);
  }
  watch(): Promise<void> {
    throw new Error('no watch');
  }
  holder(): string | undefined {
    return (this.lease?.spec as { holderIdentity?: string } | undefined)?.holderIdentity;
  }
}

/**
 * A promise that resolves when the returned callback is called: the tests wait on the elector's
 * own callbacks instead of polling, so a broken elector fails on jest's test timeout, never hangs.
 */
function signal(): [Promise<void>, () => void] {
  let fire!: () => void;
  const fired = new Promise<void>((resolve) => (fire = resolve));
  return [fired, fire];
}

describe('LeaderElector', () => {
  const opts = { namespace: 'sys', name: 'modelship', leaseDurationMs: 15_000 };

  it('lets one candidate lead; the other takes over only after the lease expires on its own clock', async () => {
    const server = new LeaseServer();
    let t = 1_000_000;
    const a = new LeaderElector(server, { ...opts, identity: 'a', now: () => t });
    const b = new LeaderElector(server, { ...opts, identity: 'b', now: () => t });
    expect(await a.tryAcquireOrRenew()).toBe(true);
    expect(await b.tryAcquireOrRenew()).toBe(false);
    t += 10_000;
    expect(await a.tryAcquireOrRenew()).toBe(true); // renewed
    t += 10_000;
    expect(await b.tryAcquireOrRenew()).toBe(false); // b saw the renewal 10 s ago... on its clock: just now
    t += 14_000;
    expect(await b.tryAcquireOrRenew()).toBe(false);
    t += 2_000; // a silent for > 15 s since b last saw a change
    expect(await b.tryAcquireOrRenew()).toBe(true);
    expect(server.holder()).toBe('b');
    expect((server.lease!.spec as { leaseTransitions: number }).leaseTransitions).toBe(1);
    // a's renewal now fails: b holds it and it is fresh.
    expect(await a.tryAcquireOrRenew()).toBe(false);
  });

  it('releases the lease on stop so the other candidate takes over at once', async () => {
    const server = new LeaseServer();
    const a = new LeaderElector(server, { ...opts, identity: 'a', retryPeriodMs: 5 });
    const b = new LeaderElector(server, { ...opts, identity: 'b', retryPeriodMs: 5 });
    const [aLeads, aStarted] = signal();
    const runA = a.run(aStarted, () => {});
    await aLeads;
    let bLeads = false;
    const [bLed, bStarted] = signal();
    const runB = b.run(
      () => {
        bLeads = true;
        bStarted();
      },
      () => {},
    );
    await new Promise((r) => setTimeout(r, 30));
    expect(bLeads).toBe(false);
    await a.stop();
    await runA;
    await bLed;
    expect(bLeads).toBe(true);
    expect(server.holder()).toBe('b');
    await b.stop();
    await runB;
    expect(server.holder()).toBeUndefined();
  });

  it('reports losing the lease when someone else holds it', async () => {
    const server = new LeaseServer();
    const a = new LeaderElector(server, { ...opts, identity: 'a', retryPeriodMs: 5 });
    let lost = false;
    const [aLeads, aStarted] = signal();
    const runA = a.run(aStarted, () => (lost = true));
    await aLeads;
    const lease = server.lease!;
    // Someone force-takes the lease (e.g. an admin edit).
    server.lease = {
      ...lease,
      spec: { holderIdentity: 'intruder', leaseDurationSeconds: 15 },
      metadata: { ...lease.metadata, resourceVersion: '999' },
    };
    await runA;
    expect(lost).toBe(true);
    expect(a.isLeader()).toBe(false);
  });
});
