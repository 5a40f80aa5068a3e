/**
 * The store settings a fetch uses, from the server's storage options: the credentials Secret the
 * operator mounted (one file per STORAGE_SECRET_KEYS key) and the CA bundle. Credentials are
 * returned to the sources and never logged: errors name the key or the file, never its content.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { STORAGE_SECRET_KEYS } from '../../../contract/model-source.js';
import { ModelLoadError, type StorageOptions } from '../dataplane/types.js';
import type { StoreCredentials, StoreSettings } from './remote.js';

/**
 * The value of one key of the mounted Secret, without the trailing newline an editor or `echo`
 * leaves; undefined when the Secret has no such key. An unreadable key is a ModelSourceInvalid that
 * names the key.
 */
async function readKey(dir: string, key: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(path.join(dir, key), 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    throw new ModelLoadError(`read storage credential ${key} in ${dir}: ${code ?? 'unreadable'}`, 'ModelSourceInvalid');
  }
  return text.replace(/[\r\n]+$/, '');
}

/**
 * The credentials in `dir` (a mounted Secret). No directory, or no such directory: anonymous. An
 * access key id without its secret (or the reverse) is refused rather than sent half.
 */
export async function readStoreCredentials(dir: string | undefined): Promise<StoreCredentials> {
  if (dir === undefined || dir === '') return {};
  const K = STORAGE_SECRET_KEYS;
  const [accessKeyId, secretAccessKey, sessionToken, gcsServiceAccountJson, ociDockerConfigJson] = await Promise.all(
    [K.s3AccessKeyId, K.s3SecretAccessKey, K.s3SessionToken, K.gcsServiceAccount, K.ociDockerConfig].map((key) =>
      readKey(dir, key),
    ),
  );
  const credentials: StoreCredentials = {};
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) {
    const missing = accessKeyId === undefined ? K.s3AccessKeyId : K.s3SecretAccessKey;
    throw new ModelLoadError(
      `storage credentials in ${dir}: ${missing} is missing (${K.s3AccessKeyId} and ${K.s3SecretAccessKey} go together)`,
      'ModelSourceInvalid',
    );
  }
  if (accessKeyId !== undefined && secretAccessKey !== undefined) {
    credentials.s3 = { accessKeyId, secretAccessKey, ...(sessionToken === undefined ? {} : { sessionToken }) };
  }
  if (gcsServiceAccountJson !== undefined) credentials.gcsServiceAccountJson = gcsServiceAccountJson;
  if (ociDockerConfigJson !== undefined) credentials.ociDockerConfigJson = ociDockerConfigJson;
  return credentials;
}

/** The settings for a fetch: what the options say, with the credentials and the CA bundle read from their files. */
export async function loadStoreSettings(storage: StorageOptions | undefined): Promise<StoreSettings> {
  let caPem: string | undefined;
  if (storage?.caFile !== undefined && storage.caFile !== '') {
    try {
      caPem = await readFile(storage.caFile, 'utf8');
    } catch (err) {
      throw new ModelLoadError(
        `read storage CA bundle ${storage.caFile}: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'}`,
        'ModelSourceInvalid',
      );
    }
  }
  return {
    endpoint: storage?.endpoint,
    region: storage?.region,
    pathStyle: storage?.pathStyle,
    plainHttp: storage?.plainHttp,
    caPem,
    credentials: await readStoreCredentials(storage?.credentialsDir),
  };
}
