/**
 * An S3-compatible store for s3:// model tests: MinIO (built by build-binaries.sh), plain HTTP,
 * path-style, data in a temp dir, root credentials made at random for each start. Buckets, policies
 * and objects are made with the AWS SDK (@aws-sdk/client-s3), the client the server itself uses.
 */
import {
  CreateBucketCommand,
  ListBucketsCommand,
  PutBucketPolicyCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { join } from 'node:path';

import { DEFAULT_STORE_HOST, hostPort, startStoreProcess, type StoreHostOptions } from './process.js';
import { assumeRole, type S3Credentials } from './sts.js';

export type { S3Credentials } from './sts.js';

/** The region MinIO reports (its default); clients must sign for it. */
export const TEST_S3_REGION = 'us-east-1';

/** How a bucket is made. */
export interface BucketOptions {
  /** Anyone may GetObject (and HEAD) in the bucket without credentials, as a public bucket. */
  anonymousRead?: boolean;
}

/** A running MinIO. */
export interface TestS3 {
  /** `http://host:port`: the S3 API endpoint (path-style). */
  endpoint: string;
  region: typeof TEST_S3_REGION;
  /** The root user's credentials (random per start): may do anything. */
  rootCredentials: S3Credentials;
  /**
   * Temporary credentials (with a session token) that may only read objects of bucket: a second
   * tenant, whose valid credentials are refused (403 AccessDenied) anywhere else.
   */
  readOnlyCredentials(bucket: string): Promise<Required<S3Credentials>>;
  createBucket(name: string, options?: BucketOptions): Promise<void>;
  /** Uploads file's bytes as `s3://<bucket>/<key>`. */
  upload(bucket: string, key: string, file: string): Promise<void>;
  /** Stops MinIO and removes its data. */
  stop(): Promise<void>;
}

/** A bucket policy letting anyone read its objects (what `mc anonymous set download` writes). */
export function anonymousReadPolicy(bucket: string): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      { Effect: 'Allow', Principal: { AWS: ['*'] }, Action: ['s3:GetObject'], Resource: [`arn:aws:s3:::${bucket}/*`] },
    ],
  });
}

/** A session policy allowing reads of bucket's objects only. */
export function readOnlyPolicy(bucket: string): object {
  return {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: ['s3:GetObject'], Resource: [`arn:aws:s3:::${bucket}/*`] }],
  };
}

/**
 * Starts MinIO on host (default 127.0.0.1) and a free port; resolves once it answers an S3 request
 * (ListBuckets as root), not merely its health endpoint: S3 calls fail until its IAM is up.
 */
export async function startS3(options: StoreHostOptions = {}): Promise<TestS3> {
  const host = options.host ?? DEFAULT_STORE_HOST;
  const rootCredentials: S3Credentials = {
    accessKeyId: `modelship-${randomBytes(6).toString('hex')}`,
    secretAccessKey: randomBytes(24).toString('base64url'),
  };
  const clientFor = (address: string): S3Client =>
    new S3Client({
      endpoint: `http://${address}`,
      region: TEST_S3_REGION,
      forcePathStyle: true,
      credentials: rootCredentials,
      // Readiness polls fail fast; the SDK's own retries would only slow them down.
      maxAttempts: 1,
    });
  const store = await startStoreProcess({
    name: 'minio',
    host,
    parentDir: options.parentDir,
    // --config-dir and --certs-dir: both default to ~/.minio (created at every start, even when unused).
    args: (port, dir) => [
      'server',
      '--quiet',
      '--config-dir',
      join(dir, 'config'),
      '--certs-dir',
      join(dir, 'config', 'certs'),
      '--address',
      hostPort(host, port),
      join(dir, 'data'),
    ],
    env: {
      MINIO_ROOT_USER: rootCredentials.accessKeyId,
      MINIO_ROOT_PASSWORD: rootCredentials.secretAccessKey,
      // No web console (it would listen on another, random port), no update checks (no outside calls).
      MINIO_BROWSER: 'off',
      MINIO_UPDATE: 'off',
      MINIO_REGION: TEST_S3_REGION,
    },
    async ready(address) {
      const client = clientFor(address);
      try {
        await client.send(new ListBucketsCommand({}));
        return true;
      } finally {
        client.destroy();
      }
    },
  });
  const endpoint = `http://${store.address}`;
  const client = new S3Client({ endpoint, region: TEST_S3_REGION, forcePathStyle: true, credentials: rootCredentials });
  return {
    endpoint,
    region: TEST_S3_REGION,
    rootCredentials,
    readOnlyCredentials: (bucket) => assumeRole(endpoint, TEST_S3_REGION, rootCredentials, readOnlyPolicy(bucket)),
    async createBucket(name, bucketOptions = {}) {
      try {
        await client.send(new CreateBucketCommand({ Bucket: name }));
        if (bucketOptions.anonymousRead)
          await client.send(new PutBucketPolicyCommand({ Bucket: name, Policy: anonymousReadPolicy(name) }));
      } catch (err) {
        throw new Error(`create bucket s3://${name}: ${(err as Error).message}`, { cause: err });
      }
    },
    async upload(bucket, key, file) {
      try {
        await client.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: key,
            Body: createReadStream(file),
            ContentLength: statSync(file).size,
          }),
        );
      } catch (err) {
        throw new Error(`upload ${file} to s3://${bucket}/${key}: ${(err as Error).message}`, { cause: err });
      }
    },
    async stop() {
      client.destroy();
      await store.stop();
    },
  };
}
