/**
 * Temporary S3 credentials limited by a session policy, from the store's STS AssumeRole API (MinIO
 * serves it at the S3 endpoint's root). Tests use them as a second tenant: valid credentials that may
 * read one bucket only. The request is signed here with AWS Signature V4 (node:crypto): the AWS SDK's
 * STS client is not among our dependencies, and this is its only call.
 */
import { createHash, createHmac } from 'node:crypto';

/** S3 credentials; a session token with temporary ones. */
export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

const sha256Hex = (data: string): string => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string): Buffer => createHmac('sha256', key).update(data).digest();

/** The Authorization header of an AWS Signature V4 request with these (lowercase) headers, all signed, and no query. */
function signV4(input: {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body: string;
  region: string;
  service: string;
  credentials: S3Credentials;
  /** `YYYYMMDDTHHMMSSZ`, also the x-amz-date header. */
  amzDate: string;
}): string {
  const names = Object.keys(input.headers).sort();
  const canonicalRequest = [
    input.method,
    input.url.pathname,
    '',
    ...names.map((n) => `${n}:${input.headers[n].trim()}`),
    '',
    names.join(';'),
    sha256Hex(input.body),
  ].join('\n');
  const date = input.amzDate.slice(0, 8);
  const scope = `${date}/${input.region}/${input.service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', input.amzDate, scope, sha256Hex(canonicalRequest)].join('\n');
  const dateKey = hmac(`AWS4${input.credentials.secretAccessKey}`, date);
  const key = hmac(hmac(hmac(dateKey, input.region), input.service), 'aws4_request');
  const signature = createHmac('sha256', key).update(stringToSign).digest('hex');
  return `AWS4-HMAC-SHA256 Credential=${input.credentials.accessKeyId}/${scope}, SignedHeaders=${names.join(';')}, Signature=${signature}`;
}

function xmlValue(xml: string, tag: string): string | undefined {
  return new RegExp(`<${tag}>([^<]*)</${tag}>`).exec(xml)?.[1];
}

/**
 * Calls STS AssumeRole at endpoint as `credentials` with a session policy: the temporary credentials
 * may do only what both the caller and the policy allow.
 */
export async function assumeRole(
  endpoint: string,
  region: string,
  credentials: S3Credentials,
  policy: object,
  durationSeconds = 3600,
): Promise<Required<S3Credentials>> {
  const url = new URL('/', endpoint);
  const body = new URLSearchParams({
    Action: 'AssumeRole',
    Version: '2011-06-15',
    DurationSeconds: String(durationSeconds),
    Policy: JSON.stringify(policy),
  }).toString();
  const amzDate = new Date()
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
  const headers: Record<string, string> = {
    'content-type': 'application/x-www-form-urlencoded',
    host: url.host,
    'x-amz-content-sha256': sha256Hex(body),
    'x-amz-date': amzDate,
  };
  const authorization = signV4({ method: 'POST', url, headers, body, region, service: 'sts', credentials, amzDate });
  const res = await fetch(url, { method: 'POST', headers: { ...headers, authorization }, body });
  const xml = await res.text();
  const accessKeyId = xmlValue(xml, 'AccessKeyId');
  const secretAccessKey = xmlValue(xml, 'SecretAccessKey');
  const sessionToken = xmlValue(xml, 'SessionToken');
  if (!res.ok || !accessKeyId || !secretAccessKey || !sessionToken)
    throw new Error(
      `assume a role at ${endpoint}: HTTP ${res.status}: ${xmlValue(xml, 'Message') ?? xml.slice(0, 300)}`,
    );
  return { accessKeyId, secretAccessKey, sessionToken };
}
