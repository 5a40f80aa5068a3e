/**
 * Who may post labels to the router (contract/accuracy.ts LABELS_PATH). Labels judge revisions: a
 * run of wrong labels rolls a canary back for low accuracy. So with spec.auth, when the revisions'
 * servers take only bearer tokens, the labels API takes the same tokens: any token of any revision
 * the routes list (the files the routes' `tokenFile`s name, read on each post so a rotated Secret
 * counts at once). Without a `tokenFile` in the routes, labels are as open as inference is.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { DEFAULT_ROUTER_TOKEN_DIR } from '../../../contract/env.js';
import type { Routes } from '../../../contract/routes.js';
import { checkBearer, parseTokens, tokenDigests, type AuthResult } from '../auth.js';

/** The token files guarding labels under these routes (absolute), or none: labels are open. */
export function labelTokenFiles(routes: Routes, tokenDir = DEFAULT_ROUTER_TOKEN_DIR): string[] {
  // validateRoutes keeps tokenFile relative and free of '..' segments: it stays under tokenDir.
  const files = routes.revisions.flatMap((r) => (r.tokenFile ? [path.join(tokenDir, r.tokenFile)] : []));
  return [...new Set(files)];
}

/**
 * Checks a labels caller's Authorization header against every token in `files`; 'ok' when there
 * are no files. A file that cannot be read adds no token (with none at all, every caller is refused).
 */
export async function checkLabelsCaller(header: string | undefined, files: readonly string[]): Promise<AuthResult> {
  if (files.length === 0) return 'ok';
  const texts = await Promise.all(files.map((f) => readFile(f, 'utf8').catch(() => '')));
  return checkBearer(header, tokenDigests(texts.flatMap(parseTokens)));
}
