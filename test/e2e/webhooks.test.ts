/**
 * Webhook checks (spec.rollout.analysis.webhooks) end to end: the real operator process on a real
 * API server, local pods serving the digits models behind the builtin router with steady load, and
 * a real HTTP server started here on loopback as the team's webhooks (the operator runs on this
 * host, so it reaches 127.0.0.1). Each test asserts what the webhooks were sent, what clients
 * noticed, what the status and Events say, and what Argo CD and kstatus show.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';

import type { ModelDeploymentSpec, WebhookSpec } from '../../operator/src/api/types.js';
import type { WebhookPayload } from '../../operator/src/rollout/webhooks.js';
import type { PodRunner } from '../localpods/runner.js';
import { waitForHealth } from './gitops.js';
import { applyMd, digits, rolledBackAt, serving, until, type ChecksContext } from './checks.js';
import { loadKubeConfig, waitFor } from './kube.js';
import type { Load } from './load.js';
import { summarize } from './load.js';
import { condition, promotedFrom, readMd, routeOf } from './md.js';
import { startLocalSuite, stopLocalSuite, type LocalSuite } from './suite.js';

const TIMEOUT = 240_000;
const kc = loadKubeConfig();
const custom = kc.makeApiClient(CustomObjectsApi);
const core = kc.makeApiClient(CoreV1Api);

/** The team's webhooks: every request received, by path; each path answers `status[path]` (200 unless set). */
class Hooks {
  readonly received: { path: string; body: WebhookPayload }[] = [];
  readonly status: Record<string, number> = {};
  private server!: Server;

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const path = req.url ?? '/';
        this.received.push({ path, body: JSON.parse(body) as WebhookPayload });
        res.statusCode = this.status[path] ?? 200;
        res.end();
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
  }

  /** A webhook of the spec, served at /<md>/<name>. */
  hook(md: string, name: string, type: WebhookSpec['type']): WebhookSpec {
    const { port } = this.server.address() as AddressInfo;
    return { name, type, url: `http://127.0.0.1:${port}/${md}/${name}`, timeoutSeconds: 5, metadata: { team: md } };
  }

  /** What ModelDeployment `md`'s webhooks were sent, in order. */
  of(md: string): WebhookPayload[] {
    return this.received.filter((r) => r.path.startsWith(`/${md}/`)).map((r) => r.body);
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

const hooks = new Hooks();
let ns: string;
let runner: PodRunner;
const started: Partial<LocalSuite> = {};
const ctx = (): ChecksContext => ({ kc, custom, ns, runner });

/** digits-v2 as a candidate: one step at `weight` for `pauseSeconds`, checked every second. */
function candidate(weight: number, pauseSeconds: number, webhooks: WebhookSpec[]): ModelDeploymentSpec {
  return {
    model: digits('digits-v2'),
    replicas: 1,
    rollout: {
      steps: [{ weight, pauseSeconds }],
      analysis: { intervalSeconds: 1, minRequests: 10, failureLimit: 2, webhooks },
    },
  };
}

/** The Events about ModelDeployment `name`, as `<type> <reason>: <message>`. */
async function eventsOf(name: string): Promise<string[]> {
  const list = await core.listNamespacedEvent({ namespace: ns, fieldSelector: `involvedObject.name=${name}` });
  return list.items.map((e) => `${e.type} ${e.reason}: ${e.message}`);
}

const loads: Load[] = [];

beforeAll(async () => {
  await hooks.start();
  ({ ns, runner } = await startLocalSuite(kc, 'webhooks', started));
  const stable: ModelDeploymentSpec = {
    model: digits('digits'),
    replicas: 1,
    rollout: { analysis: { intervalSeconds: 1 } },
  };
  await Promise.all(['gate', 'kpi', 'pass'].map((name) => applyMd(ctx(), name, stable)));
}, TIMEOUT);

afterEach(async () => {
  await Promise.all(loads.splice(0).map((l) => l.stop()));
});

afterAll(async () => {
  await stopLocalSuite(kc, started);
  await hooks.stop();
}, TIMEOUT);

describe('webhook checks', () => {
  it(
    'a PreRollout webhook that refuses rolls the candidate back before it answers a single request',
    async () => {
      const { stable, load } = await serving(ctx(), 'gate', loads);
      hooks.status['/gate/smoke'] = 503;
      await applyMd(
        ctx(),
        'gate',
        candidate(50, 600, [hooks.hook('gate', 'smoke', 'PreRollout'), hooks.hook('gate', 'page', 'Rollback')]),
      );

      const md = await until(ctx(), 'gate', 'rolled back', (m) => m.status?.canary?.phase === 'RolledBack');
      const rev = md.status!.canary!.revision;
      expect(md.status!.canary).toMatchObject({ reason: 'WebhookFailed', weight: 0 });
      expect(md.status!.canary!.message).toBe(
        `candidate ${rev} rolled back before any traffic: PreRollout webhook smoke failed (HTTP 503)`,
      );
      expect(condition(md, 'Stalled')).toMatchObject({ status: 'True', reason: 'WebhookFailed' });
      expect(condition(md, 'Ready')?.status).toBe('True');
      await waitForHealth('gate, refused', () => readMd(custom, ns, 'gate'), 'Degraded', 'Failed');

      // The Rollback webhook is told, and its answer is an Event.
      await waitFor(
        'the Rollback webhook told',
        () => hooks.of('gate').some((p) => p.type === 'Rollback'),
        30_000,
        100,
      );
      const sent = {
        name: 'gate',
        namespace: ns,
        revision: rev,
        stable,
        weight: 0,
        step: 0,
        metadata: { team: 'gate' },
      };
      expect(hooks.of('gate')).toEqual([
        { ...sent, type: 'PreRollout' },
        { ...sent, type: 'Rollback' },
      ]);
      await waitFor(
        'the RollbackWebhook Event',
        async () => (await eventsOf('gate')).some((e) => e.startsWith('Normal RollbackWebhook: ')),
        30_000,
        250,
      );
      const events = await eventsOf('gate');
      expect(events.filter((e) => e.includes('WebhookFailed'))).toHaveLength(1);
      expect(events.join('\n')).not.toContain('127.0.0.1');

      const s = summarize(await load.stop());
      expect(s.failed).toBe(0);
      expect(Object.keys(s.byRevision)).toEqual([routeOf('gate', stable)]);
    },
    TIMEOUT,
  );

  it(
    'a Rollout webhook that starts failing rolls a live canary back at failureLimit, and clients stay on the stable',
    async () => {
      const { stable, load } = await serving(ctx(), 'kpi', loads);
      await applyMd(ctx(), 'kpi', candidate(50, 600, [hooks.hook('kpi', 'business', 'Rollout')]));
      const live = await until(
        ctx(),
        'kpi',
        'a passed check at 50%',
        (m) => m.status?.canary?.phase === 'Progressing' && m.status.canary.lastResult === 'Passed',
      );
      const rev = live.status!.canary!.revision;
      await waitFor(
        'the candidate answering',
        () => load.outcomes.some((o) => o.revision === routeOf('kpi', rev)),
        30_000,
        50,
      );
      expect(hooks.of('kpi')[0]).toEqual({
        name: 'kpi',
        namespace: ns,
        type: 'Rollout',
        revision: rev,
        stable,
        weight: 50,
        step: 1,
        metadata: { team: 'kpi' },
      });

      hooks.status['/kpi/business'] = 500;
      await rolledBackAt(ctx(), 'kpi', {
        reason: 'WebhookFailed',
        message: 'Rollout webhook business failed (HTTP 500)',
        stable,
        load,
      });
    },
    TIMEOUT,
  );

  it(
    'a passing set of webhooks promotes: PreRollout before traffic, Rollout at the checks, PrePromotion before 100%',
    async () => {
      const { stable, load } = await serving(ctx(), 'pass', loads);
      await applyMd(
        ctx(),
        'pass',
        candidate(50, 3, [
          hooks.hook('pass', 'smoke', 'PreRollout'),
          hooks.hook('pass', 'business', 'Rollout'),
          hooks.hook('pass', 'sign-off', 'PrePromotion'),
          hooks.hook('pass', 'page', 'Rollback'),
        ]),
      );
      const md = await until(ctx(), 'pass', 'promoted', (m) => promotedFrom(m, routeOf('pass', stable)));
      const rev = md.status!.stable!.revision;
      await waitForHealth('pass, promoted', () => readMd(custom, ns, 'pass'), 'Healthy', 'Current');

      const sent = hooks.of('pass');
      const types = sent.map((p) => p.type);
      expect(types[0]).toBe('PreRollout');
      expect(types.at(-1)).toBe('PrePromotion');
      expect(types.slice(1, -1).length).toBeGreaterThan(0);
      expect(new Set(types.slice(1, -1))).toEqual(new Set(['Rollout']));
      expect(sent[0]).toMatchObject({ revision: rev, stable, weight: 0, step: 0 });
      expect(sent.at(-1)).toMatchObject({ revision: rev, stable, weight: 50, step: 1 });
      expect(md.status?.history?.at(-1)).toMatchObject({ outcome: 'Promoted', reason: 'Promoted' });

      const s = summarize(await load.stop());
      expect(s.failed).toBe(0);
    },
    TIMEOUT,
  );
});
