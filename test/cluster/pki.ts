/**
 * Certificates and keys for the local control plane, made with the Debian `openssl` CLI.
 * Everything is ECDSA P-256 (fast to generate on a loaded machine, accepted by every component).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A PEM certificate and its private key, as file paths. */
export interface CertPair {
  cert: string;
  key: string;
}

/** All the files the control plane needs: one CA, serving and client certs, service-account keys. */
export interface Pki {
  dir: string;
  ca: CertPair;
  apiServer: CertPair;
  admin: CertPair;
  controllerManager: CertPair;
  scheduler: CertPair;
  kwok: CertPair;
  serviceAccountKey: string;
  serviceAccountPub: string;
  /** Certificates of the real node (only when createPki was given one). */
  node?: NodePki;
}

/** Certificates of the real node's processes and of the API server's calls to its kubelet. */
export interface NodePki {
  /** kubelet → API server: CN system:node:<node>, O system:nodes (Node authorizer, NodeRestriction). */
  kubeletClient: CertPair;
  /** kubelet's own HTTPS endpoint, SANs: node IP and name. */
  kubeletServing: CertPair;
  /** API server → kubelet (logs, exec): a plain user bound to system:kubelet-api-admin at `up`. */
  apiServerKubeletClient: CertPair;
  /** kube-proxy: CN system:kube-proxy (the built-in system:node-proxier binding). */
  kubeProxy: CertPair;
  /** CoreDNS: CN system:coredns (bound at `up`, see coredns.ts). */
  coredns: CertPair;
}

/** The real node createPki issues certificates for. */
export interface PkiNode {
  name: string;
  ip: string;
}

/** User name of the API server's client cert towards the kubelet. */
export const apiServerKubeletClientUser = 'modelship:kube-apiserver-kubelet-client';

/** Subject alternative names of the API server's serving certificate (loopback and in-cluster names). */
export const apiServerSans = [
  'IP:127.0.0.1',
  'IP:10.96.0.1',
  'DNS:localhost',
  'DNS:kubernetes',
  'DNS:kubernetes.default',
  'DNS:kubernetes.default.svc',
  'DNS:kubernetes.default.svc.cluster.local',
];

function openssl(args: string[], cwd: string): void {
  try {
    execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString() ?? '';
    throw new Error(`run openssl ${args[0]} in ${cwd}: ${stderr.trim() || String(err)}`, { cause: err });
  }
}

const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** Issues `name.crt`/`name.key` signed by the CA in dir, with the given subject and X.509 extensions. */
function issue(dir: string, name: string, subject: string, extensions: string[]): CertPair {
  openssl(['req', '-new', ...ecKey, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject], dir);
  writeFileSync(join(dir, `${name}.ext`), extensions.join('\n') + '\n');
  openssl(
    [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      '365',
      '-sha256',
      '-extfile',
      `${name}.ext`,
      '-out',
      `${name}.crt`,
    ],
    dir,
  );
  return { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
}

/** The API server's SANs: the in-cluster names, plus the node address when pods must reach it. */
export function apiServerSansFor(node?: PkiNode): string[] {
  return node ? [...apiServerSans, `IP:${node.ip}`] : apiServerSans;
}

function clientCert(dir: string, name: string, subject: string): CertPair {
  return issue(dir, name, subject, [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature',
    'extendedKeyUsage=clientAuth',
  ]);
}

/**
 * Creates a fresh PKI in dir: a CA, the API server serving cert, client certs for the admin
 * (system:masters), the controller-manager and scheduler (their built-in RBAC identities), kwok,
 * and the service-account token signing key pair; with node, also the real node's certificates
 * (NodePki) and the node address in the API server's SANs.
 */
export function createPki(dir: string, node?: PkiNode): Pki {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  openssl(
    [
      'req',
      '-x509',
      '-new',
      ...ecKey,
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
      '-days',
      '3650',
      '-sha256',
      '-subj',
      '/CN=modelship-test-ca',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    dir,
  );
  const apiServer = issue(dir, 'apiserver', '/CN=kube-apiserver', [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature',
    'extendedKeyUsage=serverAuth',
    `subjectAltName=${apiServerSansFor(node).join(',')}`,
  ]);
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'sa.key'], dir);
  openssl(['ec', '-in', 'sa.key', '-pubout', '-out', 'sa.pub'], dir);
  return {
    dir,
    ca: { cert: join(dir, 'ca.crt'), key: join(dir, 'ca.key') },
    apiServer,
    admin: clientCert(dir, 'admin', '/O=system:masters/CN=modelship-admin'),
    controllerManager: clientCert(dir, 'controller-manager', '/CN=system:kube-controller-manager'),
    scheduler: clientCert(dir, 'scheduler', '/CN=system:kube-scheduler'),
    // kwok plays every kubelet (node and pod status for all fake nodes), so it gets cluster admin.
    kwok: clientCert(dir, 'kwok', '/O=system:masters/CN=kwok-controller'),
    serviceAccountKey: join(dir, 'sa.key'),
    serviceAccountPub: join(dir, 'sa.pub'),
    ...(node ? { node: createNodePki(dir, node) } : {}),
  };
}

function createNodePki(dir: string, node: PkiNode): NodePki {
  return {
    kubeletClient: clientCert(dir, 'kubelet-client', `/O=system:nodes/CN=system:node:${node.name}`),
    kubeletServing: issue(dir, 'kubelet-serving', `/CN=${node.name}`, [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature',
      'extendedKeyUsage=serverAuth',
      `subjectAltName=IP:${node.ip},DNS:${node.name}`,
    ]),
    apiServerKubeletClient: clientCert(dir, 'apiserver-kubelet-client', `/CN=${apiServerKubeletClientUser}`),
    kubeProxy: clientCert(dir, 'kube-proxy', '/CN=system:kube-proxy'),
    coredns: clientCert(dir, 'coredns', '/CN=system:coredns'),
  };
}
