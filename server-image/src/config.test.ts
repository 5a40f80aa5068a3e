import { ConfigError } from '../../contract/settings.js';
import { dataPlaneOptions, defaultModelName, parseBytes, parseConfig, usableCpus } from './config.js';

const SHA = 'ab'.repeat(32);
const base = { MODELSHIP_MODEL_URI: 'file:///models/digits.onnx', MODELSHIP_SHA256: SHA };

describe('parseConfig', () => {
  it('fills defaults from the model URI and CPU count: a serving process per CPU, one inference thread each', () => {
    const c = parseConfig([], base, 4);
    expect(c).toMatchObject({
      modelUri: 'file:///models/digits.onnx',
      sha256: SHA,
      allowUnverified: false,
      name: 'digits',
      version: '1',
      host: '0.0.0.0',
      port: 8080,
      metricsPort: 9090,
      batching: { maxBatchSize: 32, maxLatencyMs: 0 },
      processes: 4,
      workers: 1,
      intraOpThreads: 1,
      cacheDir: '/var/cache/modelship',
      maxBodyBytes: 32 * 1024 * 1024,
      maxResponseBytes: 32 * 1024 * 1024,
      logLevel: 'info',
      terminationLogPath: '/dev/termination-log',
      shutdownTimeoutMs: 25000,
    });
    expect(c.authTokenFile).toBeUndefined();
    expect(c.storage).toEqual({ pathStyle: false, plainHttp: false, timeoutSeconds: 300 });
  });

  it('reads the storage settings the operator writes', () => {
    const c = parseConfig(
      [],
      {
        ...base,
        MODELSHIP_STORAGE_ENDPOINT: 'https://minio.example:9000',
        MODELSHIP_STORAGE_REGION: 'eu-west-1',
        MODELSHIP_STORAGE_PATH_STYLE: 'true',
        MODELSHIP_STORAGE_PLAIN_HTTP: 'true',
        MODELSHIP_STORAGE_CREDENTIALS_DIR: '/etc/modelship/storage',
        MODELSHIP_STORAGE_CA_FILE: '/etc/modelship/storage-ca/ca.crt',
        MODELSHIP_STORAGE_TIMEOUT_SECONDS: '60',
        MODELSHIP_NODE_CACHE_URL: 'http://modelship-cache.modelship-system:8080',
      },
      1,
    );
    expect(c.storage).toEqual({
      endpoint: 'https://minio.example:9000',
      region: 'eu-west-1',
      pathStyle: true,
      plainHttp: true,
      credentialsDir: '/etc/modelship/storage',
      caFile: '/etc/modelship/storage-ca/ca.crt',
      timeoutSeconds: 60,
      nodeCacheUrl: 'http://modelship-cache.modelship-system:8080',
    });
    expect(dataPlaneOptions(c).storage).toEqual(c.storage);
  });

  it('reads every MODELSHIP_* variable', () => {
    const c = parseConfig(
      [],
      {
        ...base,
        MODELSHIP_MODEL_NAME: 'd',
        MODELSHIP_MODEL_VERSION: '7',
        MODELSHIP_PORT: '0',
        MODELSHIP_METRICS_PORT: '9100',
        MODELSHIP_MAX_BATCH_SIZE: '8',
        MODELSHIP_MAX_LATENCY_MS: '0.5',
        MODELSHIP_WORKERS: '3',
        MODELSHIP_INTRA_OP_THREADS: '2',
        MODELSHIP_MAX_BODY_SIZE: '512kb',
        MODELSHIP_MAX_RESPONSE_SIZE: '2mb',
        MODELSHIP_AUTH_TOKEN_FILE: '/etc/tokens',
        MODELSHIP_LOG_LEVEL: 'DEBUG',
        MODELSHIP_SHUTDOWN_DELAY_MS: '100',
      },
      1,
    );
    expect(c).toMatchObject({
      name: 'd',
      version: '7',
      port: 0,
      metricsPort: 9100,
      batching: { maxBatchSize: 8, maxLatencyMs: 0.5 },
      workers: 3,
      intraOpThreads: 2,
      maxBodyBytes: 512 * 1024,
      maxResponseBytes: 2 * 1024 * 1024,
      authTokenFile: '/etc/tokens',
      logLevel: 'debug',
      shutdownDelayMs: 100,
    });
  });

  it('shares the CPUs among the serving processes when only their number is set', () => {
    expect(parseConfig([], { ...base, MODELSHIP_PROCESSES: '1' }, 4)).toMatchObject({ processes: 1, workers: 4 });
    expect(parseConfig(['--processes', '2'], base, 5)).toMatchObject({ processes: 2, workers: 2 });
    expect(parseConfig([], { ...base, MODELSHIP_PROCESSES: '8' }, 2)).toMatchObject({ processes: 8, workers: 1 });
    expect(parseConfig([], { ...base, MODELSHIP_PROCESSES: '2', MODELSHIP_WORKERS: '3' }, 2)).toMatchObject({
      processes: 2,
      workers: 3,
    });
  });

  it('lets flags override the environment', () => {
    const c = parseConfig(
      ['--port', '1234', '--name=other', '--allow-unverified', '--model-uri', '/m.onnx'],
      { ...base, MODELSHIP_PORT: '99' },
      1,
    );
    expect(c).toMatchObject({ port: 1234, name: 'other', allowUnverified: true, modelUri: '/m.onnx' });
  });

  it('allows a missing sha256 only with allow-unverified', () => {
    expect(
      parseConfig([], { MODELSHIP_MODEL_URI: '/m.onnx', MODELSHIP_ALLOW_UNVERIFIED: 'true' }, 1).sha256,
    ).toBeUndefined();
  });

  it('maps the data plane options through', () => {
    const c = parseConfig(['--signature', '/s', '--public-key', '/k'], base, 2);
    expect(dataPlaneOptions(c)).toEqual({
      modelUri: c.modelUri,
      sha256: SHA,
      allowUnverified: false,
      signaturePath: '/s',
      publicKeyPath: '/k',
      name: 'digits',
      version: '1',
      cacheDir: '/var/cache/modelship',
      pvcRoot: '/mnt/pvc',
      storage: { pathStyle: false, plainHttp: false, timeoutSeconds: 300 },
      logLevel: 'info',
      batching: { maxBatchSize: 32, maxLatencyMs: 0 },
      workers: 1,
      intraOpThreads: 1,
    });
  });

  it.each([
    ['no model', [], {}, /missing model: set MODELSHIP_MODEL_URI/],
    ['no digest', [], { MODELSHIP_MODEL_URI: '/m.onnx' }, /missing MODELSHIP_SHA256/],
    ['bad digest', [], { ...base, MODELSHIP_SHA256: 'xyz' }, /MODELSHIP_SHA256="xyz": expected 64 hexadecimal/],
    ['bad port', [], { ...base, MODELSHIP_PORT: '70000' }, /MODELSHIP_PORT="70000": expected a port/],
    ['non-numeric port flag', ['--port', 'http'], base, /--port="http"/],
    ['zero workers', [], { ...base, MODELSHIP_WORKERS: '0' }, /MODELSHIP_WORKERS="0": expected an integer >= 1/],
    ['zero processes', ['--processes', '0'], base, /--processes="0": expected an integer >= 1/],
    ['negative latency', [], { ...base, MODELSHIP_MAX_LATENCY_MS: '-1' }, /MODELSHIP_MAX_LATENCY_MS/],
    ['bad size', [], { ...base, MODELSHIP_MAX_BODY_SIZE: 'lots' }, /MODELSHIP_MAX_BODY_SIZE="lots"/],
    ['a zero response size', ['--max-response-size', '0'], base, /--max-response-size="0": expected a size/],
    ['bad boolean', [], { ...base, MODELSHIP_ALLOW_UNVERIFIED: 'maybe' }, /expected true or false/],
    ['bad log level', [], { ...base, MODELSHIP_LOG_LEVEL: 'loud' }, /expected one of debug, info, warn, error/],
    ['same ports', [], { ...base, MODELSHIP_PORT: '9090' }, /must differ/],
    ['signature without key', ['--signature', '/s'], base, /go together/],
    ['unknown flag', ['--modle-uri', 'x'], base, /Unknown option '--modle-uri'/],
    ['positional', ['extra'], base, /positional/i],
    [
      'a storage endpoint that is no URL',
      [],
      { ...base, MODELSHIP_STORAGE_ENDPOINT: 'minio:9000' },
      /MODELSHIP_STORAGE_ENDPOINT="minio:9000": expected an http/,
    ],
    [
      'a zero fetch deadline',
      [],
      { ...base, MODELSHIP_STORAGE_TIMEOUT_SECONDS: '0' },
      /MODELSHIP_STORAGE_TIMEOUT_SECONDS="0": expected an integer between 1 and 3600/,
    ],
    ['empty string', [], { ...base, MODELSHIP_CACHE_DIR: ' ' }, /MODELSHIP_CACHE_DIR=" ": must not be empty/],
  ])('rejects %s with one line naming it', (_what, argv, env, message) => {
    let err: unknown;
    try {
      parseConfig(argv as string[], env, 1);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).not.toContain('\n');
  });
});

describe('parseBytes', () => {
  it.each([
    ['1048576', 1048576],
    ['64kb', 65536],
    ['32mb', 33554432],
    ['1GiB', 1073741824],
    ['2m', 2097152],
    ['0', undefined],
    ['-5', undefined],
    ['1.5mb', undefined],
    ['ten', undefined],
  ])('%s → %s', (text, bytes) => expect(parseBytes(text)).toBe(bytes));
});

describe('defaultModelName', () => {
  it.each([
    ['file:///models/digits.onnx', 'digits'],
    ['https://h/x/mlp-v2.onnx?sig=abc', 'mlp-v2'],
    ['pvc://claim/dir/My Model.ONNX', 'My-Model'],
    ['https://h/', 'model'],
    ['s3://models/team/digits.onnx', 'digits'],
    ['gs://models/digits.onnx', 'digits'],
    ['oci://registry.example:5000/models/digits:v1', 'digits'],
    [`oci://registry.example/models/digits@sha256:${'ab'.repeat(32)}`, 'digits'],
    [`oci://registry.example/models/digits:v1@sha256:${'ab'.repeat(32)}`, 'digits'],
  ])('%s → %s', (uri, name) => expect(defaultModelName(uri)).toBe(name));
});

describe('usableCpus', () => {
  it.each([
    [8, undefined, 8],
    [8, 'max 100000', 8],
    [8, '200000 100000\n', 2],
    [8, '150000 100000', 2],
    [8, '50000 100000', 1],
    [2, '800000 100000', 2],
    [4, 'garbage', 4],
    [0, undefined, 1],
  ])('%i CPUs, cpu.max %j → %i', (available, cpuMax, cpus) => expect(usableCpus(available, cpuMax)).toBe(cpus));
});
