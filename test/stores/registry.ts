/**
 * A real OCI registry for oci:// model tests: the CNCF distribution registry build-binaries.sh builds
 * as `registry` (the same binary as the local cluster's image registry), plain HTTP, filesystem
 * storage in a temp dir, optionally requiring Basic credentials (its htpasswd access controller,
 * with the bcrypt entry written by our `registry htpasswd` subcommand).
 */
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import {
  answers,
  DEFAULT_STORE_HOST,
  hostPort,
  startStoreProcess,
  storeBinary,
  type StoreHostOptions,
} from './process.js';

/** Basic credentials of a registry user. */
export interface RegistryAuth {
  username: string;
  password: string;
}

/** Options of startRegistry. */
export interface RegistryOptions extends StoreHostOptions {
  /** When set, every request needs these Basic credentials (401 with a Basic challenge otherwise). */
  auth?: RegistryAuth;
}

/** A running registry. */
export interface TestRegistry {
  /** `host:port`, plain HTTP (an `oci://` URI's registry part; `storage.plainHTTP: true`). */
  address: string;
  /** Stops the registry and removes its storage. */
  stop(): Promise<void>;
}

/** The realm of the Basic challenge (shown by clients asking for credentials). */
const REALM = 'modelship-test-registry';

/** `<user>:<bcrypt hash>` from our registry binary; the password goes through stdin, never argv. */
async function htpasswdLine(auth: RegistryAuth): Promise<string> {
  const bin = storeBinary('registry');
  return new Promise((resolve, reject) => {
    const child = execFile(bin, ['htpasswd', auth.username], (err, stdout, stderr) => {
      if (err) reject(new Error(`hash the registry password of ${auth.username}: ${stderr.trim() || err.message}`));
      else resolve(stdout.trim());
    });
    child.stdin?.end(`${auth.password}\n`);
  });
}

/** distribution's config.yml: plain HTTP on address, storage under storageDir, htpasswd auth when given. */
export function testRegistryConfigYaml(address: string, storageDir: string, htpasswdPath?: string): string {
  const auth = htpasswdPath
    ? `auth:
  htpasswd:
    realm: ${REALM}
    path: ${JSON.stringify(htpasswdPath)}
`
    : '';
  return `version: 0.1
log:
  level: info
  formatter: text
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: ${JSON.stringify(storageDir)}
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
${auth}http:
  addr: ${JSON.stringify(address)}
  # Signs upload session state only; fixed so the log has no "generated random secret" warning.
  secret: modelship-test-store-registry
`;
}

/**
 * Starts a registry on host (default 127.0.0.1) and a free port; resolves once `/v2/` answers (200,
 * or 401 when auth is on).
 */
export async function startRegistry(options: RegistryOptions = {}): Promise<TestRegistry> {
  const host = options.host ?? DEFAULT_STORE_HOST;
  const htpasswd = options.auth ? await htpasswdLine(options.auth) : undefined;
  const store = await startStoreProcess({
    name: 'registry',
    host,
    parentDir: options.parentDir,
    prepare(dir, port) {
      const storage = join(dir, 'storage');
      mkdirSync(storage, { recursive: true });
      const htpasswdPath = htpasswd === undefined ? undefined : join(dir, 'htpasswd');
      if (htpasswdPath) writeFileSync(htpasswdPath, `${htpasswd}\n`, { mode: 0o600 });
      writeFileSync(join(dir, 'config.yml'), testRegistryConfigYaml(hostPort(host, port), storage, htpasswdPath));
    },
    args: (_port, dir) => ['serve', join(dir, 'config.yml')],
    ready: (address) => answers(`http://${address}/v2/`, options.auth ? [401] : [200]),
  });
  return { address: store.address, stop: store.stop };
}
