/**
 * A test of the operator↔router seam (so it lives outside operator/, which may not import the router):
 * the router pods the operator renders, read by the router's own config parser, find what the
 * operator gave them (their ConfigMaps, their name, the token files the routes name).
 */
import path from 'node:path';
import { ROUTES_KEY } from '../../contract/keys.js';
import { validateRoutes } from '../../contract/routes.js';
import type { KubeObject } from '../../operator/src/desired/types.js';
import { mdFixture } from '../../operator/test/fixtures.js';
import { builtinRouter, routerTokenVolumeFor } from '../../operator/src/traffic/builtin.js';
import type { TrafficPlan } from '../../operator/src/traffic/types.js';
import { parseRouterConfig } from '../../server-image/src/router/config.js';

const OPTIONS = { serverImage: 'ghcr.io/modelship/server:test' };
const [STABLE, CANDIDATE] = ['aaaaaaaaaa', 'bbbbbbbbbb'];
/** Both revisions routed (the weights themselves do not matter here). */
const SPLIT: TrafficPlan = { weights: [STABLE, CANDIDATE].map((revision, i) => ({ revision, percent: [90, 10][i]! })) };

/** The router pod template's spec, as far as these tests read it. */
interface RouterPod {
  serviceAccountName: string;
  containers: {
    image: string;
    env: { name: string; value?: string; valueFrom?: { fieldRef: { fieldPath: string } } }[];
    securityContext: Record<string, unknown>;
    volumeMounts?: { name: string; mountPath: string; readOnly: boolean }[];
  }[];
}

const routerPodOf = (objects: KubeObject[]): RouterPod =>
  (objects.find((o) => o.kind === 'Deployment')!.spec as { template: { spec: RouterPod } }).template.spec;

const routesOf = (objects: KubeObject[]): unknown =>
  JSON.parse((objects.find((o) => o.metadata.name === 'digits-routes')!.data as Record<string, string>)[ROUTES_KEY]!);

describe('router pods as the operator renders them, configured by the router itself', () => {
  it('configures the router process so that its own config parser reads our ConfigMaps', () => {
    const objects = builtinRouter(OPTIONS).objectsFor(mdFixture({ traffic: { stickyHeader: 'X-User-Id' } }), SPLIT);
    const pod = routerPodOf(objects);
    expect(pod.serviceAccountName).toBe('digits-router');
    const container = pod.containers[0]!;
    expect(container.image).toBe(OPTIONS.serverImage);
    const fieldValues: Record<string, string> = {
      'metadata.namespace': 'ml',
      'metadata.name': 'digits-router-7d9f-abcde',
    };
    const env = Object.fromEntries(
      container.env.map((e) => [e.name, e.value ?? fieldValues[e.valueFrom!.fieldRef.fieldPath]]),
    );
    expect(env.MODELSHIP_MODE).toBe('router');
    const config = parseRouterConfig(env, 'ignored-hostname');
    expect(config).toMatchObject({
      source: { kind: 'configmap', namespace: 'ml', name: 'digits-routes' },
      statsConfigMap: 'digits-stats',
      podName: 'digits-router-7d9f-abcde',
      port: 8080,
      metricsPort: 9090,
    });
    expect(container.securityContext).toMatchObject({
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    });
  });

  it('names for each revision a token file the router, configured by its own parser, finds in the mounted volume', () => {
    const AUTH: TrafficPlan = {
      ...SPLIT,
      models: { [STABLE]: 'digits', [CANDIDATE]: 'digits' },
      tokenSecrets: { [STABLE]: { name: 'tokens' }, [CANDIDATE]: { name: 'tokens-2', key: 'api' } },
    };
    const objects = builtinRouter(OPTIONS).objectsFor(mdFixture(), AUTH);
    const container = routerPodOf(objects).containers[0]!;
    const env = Object.fromEntries(container.env.map((e) => [e.name, e.value ?? 'from-field']));
    const config = parseRouterConfig(env, 'h');
    const mount = container.volumeMounts![0]!;
    expect(config.tokenDir).toBe(mount.mountPath);
    const result = validateRoutes(routesOf(objects));
    if (!result.ok) throw new Error(result.error);
    const mounted = routerTokenVolumeFor(Object.values(AUTH.tokenSecrets!))!.projected!.sources!.flatMap((s) =>
      s.secret!.items!.map((i) => path.join(mount.mountPath, i.path)),
    );
    expect(
      result.routes.revisions.map((r) => [r.name, r.tokenFile && path.join(config.tokenDir, r.tokenFile)]),
    ).toEqual([
      [`digits-${STABLE}`, mounted[0]],
      [`digits-${CANDIDATE}`, mounted[1]],
    ]);
  });
});
