/**
 * Picks the traffic router a ModelDeployment asks for (spec.traffic.router, builtin by default).
 */
import type { ModelDeployment } from '../api/types.js';
import type { DesiredOptions } from '../desired/types.js';
import { builtinRouter } from './builtin.js';
import { gatewayApiRouter } from './gateway-api.js';
import type { TrafficRouter } from './types.js';

export type { TokenSecretRef, TrafficMirror, TrafficPlan, TrafficRouter } from './types.js';

/** The TrafficRouter for this ModelDeployment. */
export function trafficRouterFor(md: ModelDeployment, options: DesiredOptions): TrafficRouter {
  return md.spec.traffic?.router === 'gateway-api' ? gatewayApiRouter() : builtinRouter(options);
}
