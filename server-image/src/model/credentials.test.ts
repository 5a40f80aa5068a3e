import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ModelLoadError } from '../dataplane/types.js';
import { loadStoreSettings, readStoreCredentials } from './credentials.js';

describe('store credentials from the mounted Secret', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'modelship-creds-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  const reject = async (run: Promise<unknown>, message: RegExp): Promise<ModelLoadError> => {
    const err = await run.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ModelLoadError);
    expect((err as ModelLoadError).reason).toBe('ModelSourceInvalid');
    expect((err as Error).message).toMatch(message);
    return err as ModelLoadError;
  };

  test('no directory, or one that is not there, means anonymous', async () => {
    expect(await readStoreCredentials(undefined)).toEqual({});
    expect(await readStoreCredentials(path.join(dir, 'not-mounted'))).toEqual({});
    expect(await readStoreCredentials(dir)).toEqual({});
  });

  test('reads every key, without the trailing newline a Secret made with echo has', async () => {
    await writeFile(path.join(dir, 'AWS_ACCESS_KEY_ID'), 'AKIAEXAMPLE\n');
    await writeFile(path.join(dir, 'AWS_SECRET_ACCESS_KEY'), 'wJalr/secret\r\n');
    await writeFile(path.join(dir, 'AWS_SESSION_TOKEN'), 'token');
    await writeFile(path.join(dir, 'gcloud-application-credentials.json'), '{"type":"service_account"}\n');
    await writeFile(path.join(dir, '.dockerconfigjson'), '{"auths":{}}');
    expect(await readStoreCredentials(dir)).toEqual({
      s3: { accessKeyId: 'AKIAEXAMPLE', secretAccessKey: 'wJalr/secret', sessionToken: 'token' },
      gcsServiceAccountJson: '{"type":"service_account"}',
      ociDockerConfigJson: '{"auths":{}}',
    });
  });

  test('refuses half an S3 key pair, naming the missing key', async () => {
    await writeFile(path.join(dir, 'AWS_ACCESS_KEY_ID'), 'AKIAEXAMPLE');
    await reject(readStoreCredentials(dir), /AWS_SECRET_ACCESS_KEY is missing/);
  });

  test('refuses an unreadable key, naming it and never its content', async () => {
    await writeFile(path.join(dir, 'AWS_ACCESS_KEY_ID'), 'AKIAEXAMPLE');
    await mkdir(path.join(dir, 'AWS_SECRET_ACCESS_KEY'));
    const err = await reject(readStoreCredentials(dir), /read storage credential AWS_SECRET_ACCESS_KEY in .*: EISDIR/);
    expect(err.message).not.toContain('AKIAEXAMPLE');
  });

  test('settings carry the options, the CA bundle and the credentials', async () => {
    const ca = path.join(dir, 'ca.crt');
    await writeFile(ca, '-----BEGIN CERTIFICATE-----\n');
    await writeFile(path.join(dir, 'AWS_ACCESS_KEY_ID'), 'id');
    await writeFile(path.join(dir, 'AWS_SECRET_ACCESS_KEY'), 'secret');
    const settings = await loadStoreSettings({
      endpoint: 'http://127.0.0.1:9000',
      region: 'eu-west-1',
      pathStyle: true,
      credentialsDir: dir,
      caFile: ca,
      timeoutSeconds: 10,
    });
    expect(settings).toEqual({
      endpoint: 'http://127.0.0.1:9000',
      region: 'eu-west-1',
      pathStyle: true,
      plainHttp: undefined,
      caPem: '-----BEGIN CERTIFICATE-----\n',
      credentials: { s3: { accessKeyId: 'id', secretAccessKey: 'secret' } },
    });
    expect(await loadStoreSettings(undefined)).toMatchObject({ credentials: {} });
    await reject(
      loadStoreSettings({ caFile: path.join(dir, 'none.crt'), timeoutSeconds: 10 }),
      /read storage CA bundle .*none\.crt: ENOENT/,
    );
  });
});
