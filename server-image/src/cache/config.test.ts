import { ConfigError } from '../../../contract/settings.js';
import { parseBytes, parseCacheConfig } from './config.js';

describe('parseCacheConfig', () => {
  it('has defaults that run the agent on its own port with no size limit', () => {
    expect(parseCacheConfig({})).toMatchObject({
      port: 8090,
      metricsPort: 9090,
      maxBytes: 0,
      cacheDir: '/var/cache/modelship',
    });
  });

  it('reads the size limit as a Kubernetes quantity', () => {
    expect(parseCacheConfig({ MODELSHIP_CACHE_MAX_BYTES: '50Gi' }).maxBytes).toBe(50 * 2 ** 30);
    expect(parseBytes('500M')).toBe(500e6);
    expect(parseBytes('1024')).toBe(1024);
  });

  it('names the variable of a bad size', () => {
    expect(() => parseCacheConfig({ MODELSHIP_CACHE_MAX_BYTES: '50 gigs' })).toThrow(ConfigError);
    expect(() => parseCacheConfig({ MODELSHIP_CACHE_MAX_BYTES: '50 gigs' })).toThrow(/MODELSHIP_CACHE_MAX_BYTES/);
  });
});
