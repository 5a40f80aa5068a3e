/**
 * Names and labels of everything a ModelDeployment owns. One place, so the builders, the shell's
 * label selectors and the status all agree.
 */
import type { ModelDeployment } from '../api/types.js';

/** Longest Kubernetes object name we produce (DNS-1035 label, for Services). */
export const MAX_NAME_LENGTH = 63;
/** Length of a revision hash (hex characters). */
export const REVISION_LENGTH = 10;
/**
 * Longest ModelDeployment name: `<md>-<rev>` must fit in 63 characters. The CRD enforces the same
 * limit with a CEL rule on metadata.name.
 */
export const MAX_MD_NAME_LENGTH = MAX_NAME_LENGTH - REVISION_LENGTH - 1;

/** Label keys. */
export const LABEL = {
  name: 'app.kubernetes.io/name',
  instance: 'app.kubernetes.io/instance',
  component: 'app.kubernetes.io/component',
  partOf: 'app.kubernetes.io/part-of',
  managedBy: 'app.kubernetes.io/managed-by',
  deployment: 'modelship.dev/deployment',
  revision: 'modelship.dev/revision',
} as const;

/** Annotation keys. */
export const ANNOTATION = {
  /** Canonical JSON of the revision template, so a revision can be rebuilt after the spec moved on. */
  template: 'modelship.dev/template',
  /** Base64 Ed25519 signature, exposed to the pod as a file through the downward API. */
  signature: 'modelship.dev/signature',
} as const;

/** Value of app.kubernetes.io/managed-by on everything we own. */
export const MANAGER = 'modelship';

/** Label selector (string form) for every object owned by any ModelDeployment. */
export const MANAGED_SELECTOR = `${LABEL.managedBy}=${MANAGER}`;

/** Name of the apex Service, the stable address clients use. */
export function apexName(md: ModelDeployment): string {
  return checkedName(md.metadata.name, md);
}

/** Name of one revision's Deployment, Service, HPA and PDB: `<md>-<rev>`. */
export function revisionName(md: ModelDeployment, revision: string): string {
  return checkedName(`${md.metadata.name}-${revision}`, md);
}

/** Labels on every object of this ModelDeployment (not revision-specific). */
export function baseLabels(md: ModelDeployment): Record<string, string> {
  return {
    [LABEL.name]: 'modelship-server',
    [LABEL.instance]: md.metadata.name,
    [LABEL.partOf]: 'modelship',
    [LABEL.managedBy]: MANAGER,
    [LABEL.deployment]: md.metadata.name,
  };
}

/** Labels on one revision's objects and pods. */
export function revisionLabels(md: ModelDeployment, revision: string): Record<string, string> {
  return { ...baseLabels(md), [LABEL.component]: 'server', [LABEL.revision]: revision };
}

/** The pod selector of one revision (immutable in a Deployment, so only the stable keys). */
export function revisionSelector(md: ModelDeployment, revision: string): Record<string, string> {
  return { [LABEL.deployment]: md.metadata.name, [LABEL.revision]: revision };
}

/** Label selector (string form) for everything one ModelDeployment owns, for label-scoped caches. */
export function ownedSelector(md: ModelDeployment): string {
  return `${LABEL.managedBy}=${MANAGER},${LABEL.deployment}=${md.metadata.name}`;
}

/** Label selector (string form) for one revision's pods, as published in status.selector. */
export function revisionSelectorString(md: ModelDeployment, revision: string): string {
  return Object.entries(revisionSelector(md, revision))
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

function checkedName(name: string, md: ModelDeployment): string {
  if (name.length > MAX_NAME_LENGTH) {
    throw new Error(
      `name ModelDeployment ${md.metadata.namespace}/${md.metadata.name}: "${name}" is longer than ${MAX_NAME_LENGTH} characters; metadata.name must be at most ${MAX_MD_NAME_LENGTH}`,
    );
  }
  return name;
}
