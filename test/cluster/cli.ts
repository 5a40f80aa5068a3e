/**
 * Shell entry for the local control plane, used by `make cluster-up` / `make cluster-down`:
 *   node dist/test/cluster/cli.js up|down|restart-apiserver|status|gateway-api
 * It calls the same code as jest's globalSetup (cluster.ts).
 */
import { clusterDown, clusterHealthy, clusterUp, readClusterInfo, restartApiServer } from './cluster.js';
import { installGatewayApiCrds } from './gateway-api-install.js';

async function main(command: string | undefined): Promise<number> {
  switch (command) {
    case 'up': {
      const started = Date.now();
      const info = await clusterUp({ log: (m) => console.error(`cluster: ${m}`) });
      console.error(`cluster: up in ${((Date.now() - started) / 1000).toFixed(1)}s; logs in ${info.paths.logsDir}`);
      console.log(`export KUBECONFIG=${info.kubeconfig}  # API server ${info.server}`);
      return 0;
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
      console.error(`cluster: Gateway API ${done.version} (${done.channel} channel, ${done.crds.length} CRDs) ${done.applied ? 'installed' : 'already installed'} in ${took}s`);
      return 0;
    }
    default:
      console.error('usage: cli.js up|down|restart-apiserver|status|gateway-api');
      return 2;
  }
}

main(process.argv[2]).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  },
);
