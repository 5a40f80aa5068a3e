/**
 * The security settings every Modelship pod runs with (model servers and routers alike): non-root,
 * read-only root filesystem, no capabilities, no privilege escalation, the runtime's seccomp profile.
 */
import type { V1PodSecurityContext, V1SecurityContext } from '@kubernetes/client-node';

/** UID/GID the image runs as (the distroless "nonroot" user). */
export const SERVER_UID = 65532;

/** Pod-level settings; `fsGroup` makes mounted volumes (model cache, PVCs) readable by the server. */
export function podSecurityContext(options: { fsGroup: boolean }): V1PodSecurityContext {
  return {
    runAsNonRoot: true,
    runAsUser: SERVER_UID,
    runAsGroup: SERVER_UID,
    ...(options.fsGroup ? { fsGroup: SERVER_UID } : {}),
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

/** Container-level settings, a fresh object per call so no two desired objects share one. */
export function containerSecurityContext(): V1SecurityContext {
  return {
    runAsNonRoot: true,
    runAsUser: SERVER_UID,
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    privileged: false,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  };
}
