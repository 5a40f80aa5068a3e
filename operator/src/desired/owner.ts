/**
 * Owner references: every object we create is owned (controller) by its ModelDeployment, so
 * deleting the ModelDeployment garbage-collects everything.
 */
import type { V1OwnerReference } from '@kubernetes/client-node';
import { API_VERSION, KIND, type ModelDeployment } from '../api/types.js';

/** The controller owner reference to a ModelDeployment (its uid must be known). */
export function ownerReferenceTo(md: ModelDeployment): V1OwnerReference {
  if (!md.metadata.uid) {
    throw new Error(`reference ModelDeployment ${md.metadata.namespace}/${md.metadata.name}: metadata.uid is not set`);
  }
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    name: md.metadata.name,
    uid: md.metadata.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}
