/**
 * Shell entry for the local control plane, used by `make cluster-up` / `make cluster-down`:
 *   node dist/test/cluster/cli.js up [--node=kwok|real|auto]|down|restart-apiserver|status|gateway-api|leftovers
 * It calls the same code as jest's globalSetup (cluster.ts). The state dir is clusterDir()
 * ($MODELSHIP_CLUSTER_DIR or .state/cluster).
 */
import {
  clusterDown,
  clusterHealthy,
  clusterUp,
  leftovers,
  readClusterInfo,
  restartApiServer,
  type NodeMode,
} from './cluster.js';
import { installGatewayApiCrds } from './gateway-api-install.js';

/** The value of `--node=` among args (kwok when absent). */
function nodeOption(args: string[]): NodeMode | 'auto' {
  const value = args.find((a) => a.startsWith('--node='))?.slice('--node='.length) || 'kwok';
  if (value !== 'kwok' && value !== 'real' && value !== 'auto')
    throw new Error(`cluster up: --node=${value}: expected kwok, real or auto`);
  return value;
}

async function main(command: string | undefined, args: string[]): Promise<number> {
  switch (command) {
    case 'up': {
      const started = Date.now();
      const info = await clusterUp({ node: nodeOption(args), log: (m) => console.error(`cluster: ${m}`) });
      console.error(
        `cluster: up (${info.mode} nodes) in ${((Date.now() - started) / 1000).toFixed(1)}s; logs in ${info.paths.logsDir}`,
      );
      if (info.realNode) {
        console.error(
          `cluster: node ${info.realNode.name} at ${info.realNode.ip}, registry ${info.realNode.registry}, cluster DNS ${info.realNode.clusterDns}`,
        );
      }
      console.log(`export KUBECONFIG=${info.kubeconfig}  # API server ${info.server}`);
      return 0;
    }
    case 'leftovers': {
      const left = leftovers();
      for (const l of left) console.log(l);
      console.error(
        `cluster: ${left.length === 0 ? 'nothing left of a real node' : `${left.length} leftovers of a real node`}`,
      );
      return left.length === 0 ? 0 : 1;
    }
    case 'down':
      await clusterDown();
      console.error('cluster: down');
      return 0;
    case 'restart-apiserver': {
      const info = await restartApiServer();
      console.error(`cluster: kube-apiserver restarted at ${info.server}`);
      return 0;
    }
    case 'status': {
      const info = readClusterInfo();
      if (!info) {
        console.log('cluster: not running');
        return 1;
      }
      const healthy = await clusterHealthy(info);
      console.log(`cluster: ${healthy ? 'healthy' : 'UNHEALTHY'} at ${info.server}, KUBECONFIG=${info.kubeconfig}`);
      return healthy ? 0 : 1;
    }
    case 'gateway-api': {
      const info = readClusterInfo();
      if (!info) throw new Error('install Gateway API CRDs: no cluster running (make cluster-up)');
      const started = Date.now();
      const done = await installGatewayApiCrds(info.kubeconfig, { log: (m) => console.error(`cluster: ${m}`) });
      const took = ((Date.now() - started) / 1000).toFixed(1);
      console.error(
        `cluster: Gateway API ${done.version} (${done.channel} channel, ${done.crds.length} CRDs) ${done.applied ? 'installed' : 'already installed'} in ${took}s`,
      );
      return 0;
    }
    default:
      console.error('usage: cli.js up [--node=kwok|real|auto]|down|restart-apiserver|status|gateway-api|leftovers');
      return 2;
  }
}

main(process.argv[2], process.argv.slice(3)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  },
);
