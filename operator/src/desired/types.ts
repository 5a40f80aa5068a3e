/**
 * Plain types shared by the pure builders and the shell that applies their output.
 */
import type { V1OwnerReference } from '@kubernetes/client-node';

/** Metadata every desired object carries (a subset of V1ObjectMeta, always with a name). */
export interface KubeObjectMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: V1OwnerReference[];
}

/**
 * A Kubernetes object as plain JSON, ready for server-side apply: apiVersion and kind are always
 * set, dates are strings, and nothing is a client-node class instance.
 */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: KubeObjectMeta;
  [field: string]: unknown;
}

/** Operator-wide settings the builders need (from the operator's flags or Helm values). */
export interface DesiredOptions {
  /** Inference server image used when spec.server.image is not set. */
  serverImage: string;
  /** Router image (server-image in router mode); used once traffic splitting needs a router. */
  routerImage?: string;
  /** Pull policy used when spec.server.imagePullPolicy is not set. */
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  /** Requests/limits used when spec.server.resources is not set. */
  defaultResources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  /**
   * The node cache agent's URL, passed to the servers of remote models (http, https, s3, gs, oci)
   * so each node downloads a model once; unset: every pod fetches for itself.
   */
  nodeCacheUrl?: string;
}
