/**
 * What GitOps tools show for a ModelDeployment, computed by their own code: Argo CD's health (the
 * chart's charts/modelship/argocd/health.lua run in gopher-lua as Argo CD runs a
 * resource.customizations script) and Flux's (kstatus, sigs.k8s.io/cli-utils). Both run in the
 * gitops-health tool that `make cluster-build` builds (test/cluster/go/gitops-health).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { binDir, repoRoot } from '../cluster/cluster.js';
import { waitFor } from '../cluster/wait.js';

/** One tool's verdict: Argo CD's health status or kstatus's status, with its message. */
export interface Verdict {
  status: string;
  message: string;
  /** The script's or library's error, when it failed (status is then Unknown). */
  error?: string;
}

/** What Argo CD and Flux show for one object. */
export interface GitopsHealth {
  argocd: Verdict;
  kstatus: Verdict;
}

/** The Argo CD health check the chart ships. */
export const HEALTH_LUA = join(repoRoot(), 'charts/modelship/argocd/health.lua');

/** Argo CD's and kstatus's verdicts on each object, in order. */
export async function gitopsHealth(objects: readonly object[]): Promise<GitopsHealth[]> {
  const tool = join(binDir(), 'gitops-health');
  if (!existsSync(tool)) throw new Error(`${tool} missing: run make cluster-build`);
  const stdout = await new Promise<string>((resolve, reject) => {
    const child = execFile(tool, ['--lua', HEALTH_LUA], { maxBuffer: 16 << 20 }, (err, out, stderr) =>
      err ? reject(new Error(`gitops-health: ${err.message}\n${stderr}`)) : resolve(out),
    );
    child.stdin!.end(objects.map((o) => JSON.stringify(o)).join('\n') + '\n');
  });
  return stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as GitopsHealth);
}

/**
 * Reads the object until Argo CD shows `argocd` and kstatus `kstatus` for it, and returns those
 * verdicts; on timeout the error carries the last ones seen.
 */
export async function waitForHealth(
  what: string,
  read: () => Promise<object>,
  argocd: string,
  kstatus: string,
  timeoutMs = 60_000,
): Promise<GitopsHealth> {
  let last: GitopsHealth | undefined;
  try {
    return await waitFor(
      `${what}: Argo CD ${argocd}, kstatus ${kstatus}`,
      async () => {
        [last] = await gitopsHealth([await read()]);
        return last!.argocd.status === argocd && last!.kstatus.status === kstatus && last;
      },
      timeoutMs,
      500,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}; last seen ${JSON.stringify(last)}`, { cause: err });
  }
}
