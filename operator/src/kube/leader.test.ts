import { KubeApiError, type KubeApi, type KubeObject, type KubeRequest } from './client.js';
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
    let aLeads = false;
    const runA = a.run(
      () => (aLeads = true),
      () => {},
    );
    while (!aLeads) await new Promise((r) => setTimeout(r, 1));
    let bLeads = false;
    const runB = b.run(
      () => (bLeads = true),
      () => {},
    );
    await new Promise((r) => setTimeout(r, 30));
    expect(bLeads).toBe(false);
    await a.stop();
    await runA;
    for (let i = 0; i < 1000 && !bLeads; i++) await new Promise((r) => setTimeout(r, 2));
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
    const runA = a.run(
      () => {},
      () => (lost = true),
    );
    while (!server.lease) await new Promise((r) => setTimeout(r, 1));
    // Someone force-takes the lease (e.g. an admin edit).
    server.lease = {
      ...server.lease,
      spec: { holderIdentity: 'intruder', leaseDurationSeconds: 15 },
      metadata: { ...server.lease.metadata, resourceVersion: '999' },
    };
    await runA;
    expect(lost).toBe(true);
    expect(a.isLeader()).toBe(false);
  });
});
