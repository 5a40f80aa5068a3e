/**
 * oras, the real OCI artifact client (built by build-binaries.sh as `oras`), pushing a model file as
 * an artifact the way teams do (`oras push <registry>/<repo>:<tag> model.onnx`): the raw file is the
 * layer blob, annotated `org.opencontainers.image.title: <file name>`. Plain HTTP (the test registry
 * has no TLS); credentials go through stdin; a temp registry config, so the user's docker/oras
 * credentials are neither read nor written.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';

import type { RegistryAuth } from './registry.js';
import { storeBinary } from './process.js';

/** What orasPush pushes. */
export interface OrasPushOptions {
  /** The registry's `host:port` (TestRegistry.address). */
  address: string;
  /** e.g. `models/digits`. */
  repository: string;
  tag: string;
  /** The model file; pushed from its directory, so the layer's title is its bare file name. */
  file: string;
  /** The manifest's artifactType (oras's default when unset: `application/vnd.unknown.artifact.v1`). */
  artifactType?: string;
  auth?: RegistryAuth;
}

/** What a push made. */
export interface OrasPushed {
  /** The manifest's digest, `sha256:<64 hex>` (pins it: `oci://<reference without tag>@<digest>`). */
  manifestDigest: string;
  /** `<address>/<repository>:<tag>`. */
  reference: string;
}

/** What orasPull fetches. */
export interface OrasPullOptions {
  /** `<address>/<repository>:<tag>` or `...@sha256:<hex>`. */
  reference: string;
  /** Where the layers are written, each under its title. */
  outputDir: string;
  auth?: RegistryAuth;
}

/** Runs oras with args (password on stdin when auth is given) in a private registry config; resolves stdout. */
async function runOras(what: string, args: string[], auth: RegistryAuth | undefined, cwd?: string): Promise<string> {
  const bin = storeBinary('oras');
  const configDir = mkdtempSync(join(tmpdir(), 'modelship-oras-'));
  const authArgs = auth ? ['--username', auth.username, '--password-stdin'] : [];
  const all = [...args, '--plain-http', '--no-tty', '--registry-config', join(configDir, 'config.json'), ...authArgs];
  try {
    return await new Promise<string>((resolve, reject) => {
      const child = execFile(bin, all, { cwd, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
        if (err) reject(new Error(`${what}: ${stderr.trim() || err.message}`));
        else resolve(stdout);
      });
      child.stdin?.end(auth ? `${auth.password}\n` : '');
    });
  } finally {
    rmSync(configDir, { recursive: true, force: true });
  }
}

/** Pushes file as a one-layer OCI artifact to `<address>/<repository>:<tag>` with the real oras client. */
export async function orasPush(options: OrasPushOptions): Promise<OrasPushed> {
  const reference = `${options.address}/${options.repository}:${options.tag}`;
  const typeArgs = options.artifactType ? ['--artifact-type', options.artifactType] : [];
  const out = await runOras(
    `push ${options.file} to ${reference} with oras`,
    ['push', ...typeArgs, '--format', 'json', reference, basename(options.file)],
    options.auth,
    dirname(options.file),
  );
  const manifestDigest = (JSON.parse(out) as { digest?: string }).digest;
  if (!manifestDigest || !/^sha256:[0-9a-f]{64}$/.test(manifestDigest))
    throw new Error(`push ${options.file} to ${reference} with oras: no manifest digest in its output: ${out}`);
  return { manifestDigest, reference };
}

/** Pulls an artifact's layers into outputDir with the real oras client. */
export async function orasPull(options: OrasPullOptions): Promise<void> {
  await runOras(
    `pull ${options.reference} with oras`,
    ['pull', '--output', options.outputDir, options.reference],
    options.auth,
  );
}
