/**
 * The HTTP probes of Modelship's containers: model servers and routers answer the same V2 health
 * routes on their `http` port, and differ only in how often and how many failures count.
 */
import type { V1Probe } from '@kubernetes/client-node';

/** A probe of `path` on the `http` port every `periodSeconds`, failing after `failureThreshold` misses of 2 s. */
export function httpProbe(
  path: '/v2/health/live' | '/v2/health/ready',
  periodSeconds: number,
  failureThreshold: number,
): V1Probe {
  return { httpGet: { path, port: 'http' }, periodSeconds, failureThreshold, timeoutSeconds: 2 };
}
