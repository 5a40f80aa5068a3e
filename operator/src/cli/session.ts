/**
 * The frame of every command that talks to the cluster: connect, name the verb and the object in
 * any error (exit 1), and close the connection so the process exits.
 */
import { connect, type CliApi } from '../kube/cli-api.js';
import type { Io, Target } from './args.js';

/** Runs `body` connected for `target`; `where` names the object (`ModelDeployment <ns>/<name>`). */
export async function againstCluster(
  verb: string,
  target: Target,
  io: Io,
  body: (cli: CliApi, where: string) => Promise<number>,
): Promise<number> {
  let where = `ModelDeployment ${target.namespace ?? '(context namespace)'}/${target.name}`;
  let cli: CliApi | undefined;
  try {
    cli = await connect(target.kubeconfig, target.namespace);
    where = `ModelDeployment ${cli.namespace}/${target.name}`;
    return await body(cli, where);
  } catch (e) {
    io.err(`${verb} ${where}: ${(e as Error).message}`);
    return 1;
  } finally {
    cli?.api.close();
  }
}
