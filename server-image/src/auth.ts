/**
 * Optional bearer-token auth. Tokens come from a file (one per line, `#` comments; a mounted
 * Kubernetes Secret in production) and are reloaded when the file changes, so rotating the Secret
 * needs no restart. Only sha256 digests of tokens are kept, and a presented token is hashed too:
 * the compare is then always between two 32-byte values, so crypto.timingSafeEqual applies and
 * neither the token's length nor its prefix leaks through timing.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync, unwatchFile, watchFile } from 'node:fs';
import type { Logger } from '../../common/log.js';

/** The outcome of checking one request's Authorization header. */
export type AuthResult = 'ok' | 'missing' | 'invalid';

/** The tokens in a token file: one per line, blank lines and `#` comments ignored. */
export function parseTokens(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** The digests {@link checkBearer} compares against, of these tokens. */
export function tokenDigests(tokens: readonly string[]): Buffer[] {
  return tokens.map(digest);
}

/**
 * Check an Authorization header against token digests. Every digest is compared (no early exit)
 * so the time taken does not say which, if any, matched.
 */
export function checkBearer(header: string | undefined, digests: readonly Buffer[]): AuthResult {
  if (header === undefined || header === '') return 'missing';
  const m = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
  if (!m) return 'invalid';
  const presented = digest(m[1]);
  let matched = false;
  for (const d of digests) matched = timingSafeEqual(presented, d) || matched;
  return matched ? 'ok' : 'invalid';
}

/** Tokens loaded from a file and kept current while the process runs. */
export class TokenFile {
  private digests: Buffer[] = [];

  /** Reads the file now; throws if it cannot be read or holds no token (auth would lock everyone out). */
  constructor(
    private readonly path: string,
    private readonly log: Logger,
  ) {
    let tokens: string[];
    try {
      tokens = this.read();
    } catch (err) {
      throw new Error(`read auth token file ${path}: ${(err as Error).message}`, { cause: err });
    }
    if (tokens.length === 0) throw new Error(`read auth token file ${path}: no tokens in it`);
    this.digests = tokens.map(digest);
  }

  /** Check a request's Authorization header. */
  check(header: string | undefined): AuthResult {
    return checkBearer(header, this.digests);
  }

  /**
   * Reload on change. Polling the file's stat (not fs.watch) survives the symlink swap Kubernetes
   * does when it updates a mounted Secret. A read failure or an empty file keeps the old tokens.
   */
  watch(intervalMs = 2000): void {
    watchFile(this.path, { interval: intervalMs, persistent: false }, () => {
      try {
        const tokens = this.read();
        if (tokens.length === 0) {
          this.log.warn('auth token file is empty; keeping the previous tokens', { path: this.path });
          return;
        }
        this.digests = tokens.map(digest);
        this.log.info('auth tokens reloaded', { path: this.path, count: tokens.length });
      } catch (err) {
        this.log.warn('reload auth token file failed; keeping the previous tokens', {
          path: this.path,
          error: (err as Error).message,
        });
      }
    });
  }

  /** Stop watching the file. */
  close(): void {
    unwatchFile(this.path);
  }

  private read(): string[] {
    return parseTokens(readFileSync(this.path, 'utf8'));
  }
}
