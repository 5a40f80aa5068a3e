/**
 * What a revision's server needs to reach the store its model is kept in: spec.model.storage
 * written into the environment the server reads (contract STORAGE_ENV), the credentials Secret and
 * the CA ConfigMap mounted read-only as files (never as env values, so no credential is ever in
 * the pod spec), and the node cache agent's URL for remote schemes. No hostPath: the pod stays
 * restricted; the node cache is reached over the network.
 */
import type { V1EnvVar, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import { MODEL_SCHEMES, REMOTE_SCHEMES, STORAGE_ENV, type ModelScheme } from '../../../contract/model-source.js';
import type { ModelSpec } from '../api/types.js';

/** Where the credentials Secret's keys are files (the server's MODELSHIP_STORAGE_CREDENTIALS_DIR). */
export const STORAGE_CREDENTIALS_DIR = '/etc/modelship/storage';
/** Where the CA ConfigMap's key is mounted; the file is CA_FILE_NAME in it. */
export const STORAGE_CA_DIR = '/etc/modelship/storage-ca';
/** The file name of the CA bundle in STORAGE_CA_DIR, whatever the ConfigMap key is. */
export const CA_FILE_NAME = 'ca.crt';
/** The ConfigMap key of the CA bundle when spec.model.storage.caBundleRef.key is not set (the CRD's default). */
export const DEFAULT_CA_KEY = 'ca.crt';

/** The environment, volumes and mounts a revision's server gets for its model's store. */
export interface StorageWiring {
  env: V1EnvVar[];
  volumes: V1Volume[];
  mounts: V1VolumeMount[];
}

/** The scheme of a model URI, or undefined for one the CRD would refuse. */
export function schemeOf(uri: string): ModelScheme | undefined {
  const scheme = /^([a-z0-9]+):\/\//.exec(uri)?.[1];
  return MODEL_SCHEMES.find((s) => s === scheme);
}

/**
 * The store settings of this model for its server. Only what the spec gives is set (the server
 * has a default for the rest); `nodeCacheUrl` is passed for remote schemes only, since a file or
 * a claim is already on the node.
 */
export function storageWiring(model: ModelSpec, nodeCacheUrl: string | undefined): StorageWiring {
  const storage = model.storage ?? {};
  const env: V1EnvVar[] = [];
  const volumes: V1Volume[] = [];
  const mounts: V1VolumeMount[] = [];
  if (storage.endpoint !== undefined) env.push({ name: STORAGE_ENV.endpoint, value: storage.endpoint });
  if (storage.region !== undefined) env.push({ name: STORAGE_ENV.region, value: storage.region });
  if (storage.pathStyle !== undefined) env.push({ name: STORAGE_ENV.pathStyle, value: String(storage.pathStyle) });
  if (storage.plainHTTP !== undefined) env.push({ name: STORAGE_ENV.plainHttp, value: String(storage.plainHTTP) });
  if (storage.timeoutSeconds !== undefined)
    env.push({ name: STORAGE_ENV.timeoutSeconds, value: String(storage.timeoutSeconds) });
  if (storage.secretRef !== undefined) {
    // Every key of the Secret, so one Secret made for KServe or imagePullSecrets works unchanged;
    // optional: false, so a missing Secret stops the pod before the server starts.
    volumes.push({
      name: 'storage-credentials',
      secret: { secretName: storage.secretRef.name, defaultMode: 0o440, optional: false },
    });
    mounts.push({ name: 'storage-credentials', mountPath: STORAGE_CREDENTIALS_DIR, readOnly: true });
    env.push({ name: STORAGE_ENV.credentialsDir, value: STORAGE_CREDENTIALS_DIR });
  }
  if (storage.caBundleRef !== undefined) {
    const key = storage.caBundleRef.key ?? DEFAULT_CA_KEY;
    volumes.push({
      name: 'storage-ca',
      configMap: {
        name: storage.caBundleRef.name,
        items: [{ key, path: CA_FILE_NAME }],
        defaultMode: 0o440,
        optional: false,
      },
    });
    mounts.push({ name: 'storage-ca', mountPath: STORAGE_CA_DIR, readOnly: true });
    env.push({ name: STORAGE_ENV.caFile, value: `${STORAGE_CA_DIR}/${CA_FILE_NAME}` });
  }
  const scheme = schemeOf(model.uri);
  if (nodeCacheUrl !== undefined && scheme !== undefined && REMOTE_SCHEMES.includes(scheme))
    env.push({ name: STORAGE_ENV.nodeCacheUrl, value: nodeCacheUrl });
  return { env, volumes, mounts };
}
