/* eslint-disable @typescript-eslint/no-explicit-any -- assertions walk the built objects as free-form JSON */
import type { V1Pod } from '@kubernetes/client-node';
import { validateRoutes } from '../../../contract/routes.js';
import type { ModelDeployment } from '../api/types.js';
import { desiredObjects } from '../desired/index.js';
import type { KubeObject } from '../desired/types.js';
import { emptyObserved } from '../observed.js';
import { plan } from '../rollout/plan.js';
import { revisionOf } from '../rollout/revision.js';
import { mdFixture, SHA_B } from '../../test/fixtures.js';
import { MAX_PENDING_PREDICTIONS, routeMonitoringFor, routerPeersOf } from './routes.js';

const NOW = new Date('2026-12-07T17:00:00.000Z');
const OPTIONS = { serverImage: 'ghcr.io/modelship/server:1.0.0' };
const PROFILE = { uri: 'https://models.example.com/digits.profile.json', sha256: SHA_B };

function routesOf(objects: KubeObject[]): Record<string, any> {
  const cm = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'digits-routes') as Record<string, any>;
  return JSON.parse(cm.data['routes.json']);
}

function serverEnv(objects: KubeObject[]): Record<string, string | undefined> {
  const d = objects.find((o) => o.kind === 'Deployment' && o.metadata.labels?.['modelship.dev/revision']) as any;
  return Object.fromEntries(
    d.spec.template.spec.containers[0].env.map((e: { name: string; value?: string }) => [e.name, e.value]),
  );
}

function build(md: ModelDeployment, peers: string[] = []): KubeObject[] {
  return desiredObjects(md, plan(md, emptyObserved(), NOW), OPTIONS, peers);
}

function routerPod(name: string, ip: string | undefined, phase = 'Running', md = 'digits'): V1Pod {
  return {
    metadata: { name, labels: { 'modelship.dev/deployment': md, 'app.kubernetes.io/component': 'router' } },
    status: { phase, ...(ip !== undefined ? { podIP: ip } : {}) },
  };
}

describe('routes.monitoring', () => {
  it('is absent without spec.monitoring', () => {
    expect(routesOf(build(mdFixture())).monitoring).toBeUndefined();
  });

  it('carries every part with the CRD defaults, the ModelDeployment for the CloudEvents and the router peers', () => {
    const md = mdFixture({
      monitoring: { payloadLogging: { url: 'http://sink.logs:8080/' }, drift: {}, accuracy: {} },
    });
    const routes = routesOf(build(md, ['http://10.0.0.7:8080', 'http://10.0.0.8:8080']));
    expect(routes.monitoring).toEqual({
      payloadLog: {
        url: 'http://sink.logs:8080/',
        percent: 100,
        mode: 'all',
        modelDeployment: 'digits',
        namespace: 'ml',
      },
      drift: { windowRows: 1000, referenceRows: 1000, threshold: 0.2 },
      accuracy: {
        ttlSeconds: 3600,
        maxPending: MAX_PENDING_PREDICTIONS,
        peers: ['http://10.0.0.7:8080', 'http://10.0.0.8:8080'],
      },
    });
    expect(validateRoutes(routes)).toMatchObject({ ok: true });
  });

  it('takes the spec values as they are', () => {
    const md = mdFixture({
      monitoring: {
        payloadLogging: { url: 'https://sink.example.com/e', percent: 5, mode: 'response' },
        drift: { threshold: 0.1, windowRows: 200, referenceRows: 500 },
        accuracy: { output: 'label', labelTtlSeconds: 60 },
      },
    });
    expect(routeMonitoringFor(md, [])).toEqual({
      payloadLog: {
        url: 'https://sink.example.com/e',
        percent: 5,
        mode: 'response',
        modelDeployment: 'digits',
        namespace: 'ml',
      },
      drift: { windowRows: 200, referenceRows: 500, threshold: 0.1 },
      accuracy: { output: 'label', ttlSeconds: 60, maxPending: MAX_PENDING_PREDICTIONS, peers: [] },
    });
  });

  it('changes the routes generation when a router pod comes or goes, so the routers learn their peers', () => {
    const md = mdFixture({ monitoring: { accuracy: {} } });
    const one = routesOf(build(md, ['http://10.0.0.7:8080']));
    const two = routesOf(build(md, ['http://10.0.0.7:8080', 'http://10.0.0.8:8080']));
    expect(two.generation).not.toBe(one.generation);
  });

  it('lists no peers and keeps the generation without accuracy, whatever the router pods', () => {
    const md = mdFixture({ monitoring: { drift: {} } });
    expect(routesOf(build(md, ['http://10.0.0.7:8080']))).toEqual(routesOf(build(md, [])));
  });
});

describe('routerPeersOf', () => {
  const md = mdFixture();

  it('lists the running router pods of this ModelDeployment by name, IPv6 in brackets', () => {
    const pods = [
      routerPod('digits-router-b', '10.0.0.8'),
      routerPod('digits-router-a', 'fd00::7'),
      routerPod('digits-router-c', undefined, 'Pending'),
      routerPod('other-router-a', '10.0.0.9', 'Running', 'other'),
      {
        ...routerPod('digits-router-d', '10.0.0.10'),
        metadata: { ...routerPod('x', 'y').metadata, name: 'digits-router-d', deletionTimestamp: NOW },
      },
      {
        metadata: {
          name: 'digits-abc',
          labels: { 'modelship.dev/deployment': 'digits', 'app.kubernetes.io/component': 'server' },
        },
        status: { phase: 'Running', podIP: '10.0.0.11' },
      },
    ];
    expect(routerPeersOf(md, pods)).toEqual(['http://[fd00::7]:8080', 'http://10.0.0.8:8080']);
  });
});

describe('reference profile', () => {
  it('marks the revision whose model has a profile, and gives its server the profile and its digest', () => {
    const md = mdFixture({
      model: { uri: 'https://models.example.com/digits.onnx', sha256: 'a'.repeat(64), profile: PROFILE },
    });
    const objects = build(md);
    expect(routesOf(objects).revisions).toEqual([
      expect.objectContaining({ name: `digits-${revisionOf(md)}`, model: 'digits', profile: true }),
    ]);
    expect(serverEnv(objects)).toMatchObject({
      MODELSHIP_PROFILE_URI: PROFILE.uri,
      MODELSHIP_PROFILE_SHA256: SHA_B,
    });
  });

  it('leaves both out without a profile', () => {
    const objects = build(mdFixture());
    expect(routesOf(objects).revisions[0].profile).toBeUndefined();
    expect(Object.keys(serverEnv(objects))).not.toContain('MODELSHIP_PROFILE_URI');
  });

  it('makes a new revision when the profile changes, since the servers load it', () => {
    const without = mdFixture();
    const withProfile = mdFixture({ model: { ...without.spec.model, profile: PROFILE } });
    expect(revisionOf(withProfile)).not.toBe(revisionOf(without));
  });

  it('makes no new revision for spec.monitoring, which only the router reads', () => {
    expect(revisionOf(mdFixture({ monitoring: { drift: {} } }))).toBe(revisionOf(mdFixture()));
  });
});
