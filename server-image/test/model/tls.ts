/**
 * A private CA and a server certificate it signed for 127.0.0.1, made with the openssl CLI: a store
 * behind TLS that only the storage CA bundle (MODELSHIP_STORAGE_CA_FILE) makes trusted.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** PEM texts, and the CA certificate's file for MODELSHIP_STORAGE_CA_FILE. */
export interface TestTls {
  caFile: string;
  caPem: string;
  key: string;
  cert: string;
  /** Remove the files. */
  remove(): void;
}

/** A new CA and a certificate for 127.0.0.1 it signed (both valid for a day, EC P-256). */
export function makeTestTls(): TestTls {
  const dir = mkdtempSync(path.join(tmpdir(), 'modelship-tls-'));
  const openssl = (args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl([
    'req',
    '-x509',
    ...ec,
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-subj',
    '/CN=modelship test store CA',
    '-days',
    '1',
  ]);
  openssl(['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1']);
  writeFileSync(path.join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  openssl([
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'server.crt',
    '-days',
    '1',
    '-extfile',
    'san.ext',
  ]);
  const read = (name: string): string => readFileSync(path.join(dir, name), 'utf8');
  return {
    caFile: path.join(dir, 'ca.crt'),
    caPem: read('ca.crt'),
    key: read('server.key'),
    cert: read('server.crt'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
