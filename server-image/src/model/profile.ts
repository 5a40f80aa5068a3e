/**
 * The model's drift reference profile (contract/drift.ts): fetched from the same stores and with
 * the same storage settings as the model, its sha256 checked like the model's (a wrong digest is
 * refused), parsed and validated. The served profile is one per serving process: main.ts starts
 * its load, the HTTP route (http/profile.ts) serves it.
 */
import { readFile } from 'node:fs/promises';
import type { Logger } from '../../../common/log.js';
import { validateProfile, type ReferenceProfile } from '../../../contract/drift.js';
import type { Config } from '../config.js';
import { ModelLoadError } from '../dataplane/types.js';
import { fetchVerifiedModel, redactUri } from './index.js';

/** What a profile fetch needs of the configuration. */
export type ProfileOptions = Pick<
  Config,
  'profileUri' | 'profileSha256' | 'allowUnverified' | 'cacheDir' | 'pvcRoot' | 'storage' | 'logLevel'
>;

/**
 * Fetches and verifies the profile at `options.profileUri`; rejects with a ModelLoadError naming
 * the profile and what failed (fetch, digest, JSON or format).
 */
export async function fetchProfile(
  options: ProfileOptions & { profileUri: string },
  log: Pick<Logger, 'info' | 'warn'>,
): Promise<ReferenceProfile> {
  const uri = redactUri(options.profileUri);
  let path: string;
  try {
    const file = await fetchVerifiedModel(
      {
        modelUri: options.profileUri,
        sha256: options.profileSha256,
        allowUnverified: options.allowUnverified,
        cacheDir: options.cacheDir,
        pvcRoot: options.pvcRoot,
        storage: options.storage,
        logLevel: options.logLevel,
      },
      undefined,
      log,
    );
    path = file.path;
  } catch (err) {
    const e = err as ModelLoadError;
    throw new ModelLoadError(`profile: ${e.message}`, e.reason);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new ModelLoadError(`profile ${uri}: not JSON: ${(err as Error).message}`);
  }
  const checked = validateProfile(parsed, `profile ${uri}`);
  if (!checked.ok) throw new ModelLoadError(checked.error);
  return checked.value;
}

/** The profile this process serves: none configured, loading, or loaded. */
export class ServedProfile {
  private state: { kind: 'none' } | { kind: 'loading' } | { kind: 'loaded'; profile: ReferenceProfile } = {
    kind: 'none',
  };

  /** Loads the configured profile (rejects as {@link fetchProfile} does). */
  async load(options: ProfileOptions & { profileUri: string }, log: Pick<Logger, 'info' | 'warn'>): Promise<void> {
    this.state = { kind: 'loading' };
    const profile = await fetchProfile(options, log);
    this.state = { kind: 'loaded', profile };
  }

  /** The profile, 'loading', or undefined when none is configured. */
  current(): ReferenceProfile | 'loading' | undefined {
    if (this.state.kind === 'none') return undefined;
    return this.state.kind === 'loading' ? 'loading' : this.state.profile;
  }
}

/** This serving process's profile (one model per process). */
export const servedProfile = new ServedProfile();
