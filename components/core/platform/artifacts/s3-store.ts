import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { Readable } from 'node:stream';
import type { S3Config } from '../config.js';
import { AlreadyExistsError, CredentialsError, errorMessage, InputError, NotFoundError } from '../errors.js';
import { checkKey, checkPrefix, type ArtifactStore, type Body, type ObjectInfo, type PutOptions } from './store.js';

/** Bodies above this go up as a multipart upload (lib-storage), in parts of this size. */
const MULTIPART_THRESHOLD = 16 * 1024 * 1024;
const PART_SIZE = 8 * 1024 * 1024;

/** Parses `s3://bucket/prefix` into its bucket and key prefix (no trailing slash). */
export function parseS3Uri(uri: string): { bucket: string; prefix: string } {
  const match = /^s3:\/\/([^/]+)\/?(.*)$/.exec(uri);
  if (!match?.[1]) throw new InputError(`not an s3:// URI: '${uri}'`);
  return { bucket: match[1], prefix: (match[2] ?? '').replace(/\/+$/, '') };
}

/**
 * The client every S3 call here uses. Credentials come from the SDK's default chain (environment,
 * shared config, web identity: IRSA on EKS), never from our configuration. Throttling, 5xx and
 * network errors are retried by the SDK's standard retry strategy (exponential backoff with jitter),
 * rather than by a loop of our own.
 */
export function createS3Client(config: S3Config): S3Client {
  return new S3Client({
    region: config.region,
    endpoint: config.endpoint,
    forcePathStyle: config.forcePathStyle,
    maxAttempts: 5,
    retryMode: 'standard',
  });
}

/** An S3 bucket (or a prefix of one) as an artifact store. */
export function openS3Store(rootUri: string, client: S3Client): ArtifactStore {
  const { bucket, prefix } = parseS3Uri(rootUri);
  const root = `s3://${bucket}${prefix ? `/${prefix}` : ''}`;
  const objectKey = (key: string) => (prefix ? `${prefix}/${checkKey(key)}` : checkKey(key));
  const uri = (key: string) => `${root}/${key}`;

  /** Turns the SDK's errors into ours, naming the object and what to check. */
  const translate = (key: string, error: unknown): Error => {
    if (!(error instanceof Error)) return new Error(String(error));
    const status = error instanceof S3ServiceException ? error.$metadata.httpStatusCode : undefined;
    const code = error.name;
    if (code === 'NoSuchBucket') return new NotFoundError(`bucket '${bucket}' does not exist (${root})`);
    if (code === 'NoSuchKey' || code === 'NotFound' || status === 404) return new NotFoundError(`no artifact at ${uri(key)}`);
    if (code === 'PreconditionFailed' || status === 412) return new AlreadyExistsError(`artifact ${uri(key)} already exists`);
    if (['SignatureDoesNotMatch', 'InvalidAccessKeyId', 'AccessDenied', 'ExpiredToken', 'InvalidToken'].includes(code) || status === 403) {
      return new CredentialsError(
        `S3 refused the credentials for ${uri(key)} (${code}): check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, ` +
          'or the IAM role of the service account',
      );
    }
    if (code === 'CredentialsProviderError') {
      return new CredentialsError(`no S3 credentials found for ${uri(key)}: ${error.message}`);
    }
    return new Error(`S3 request for ${uri(key)} failed: ${errorMessage(error)}`, { cause: error });
  };

  const call = async <T>(key: string, send: () => Promise<T>): Promise<T> => {
    try {
      return await send();
    } catch (error) {
      throw translate(key, error);
    }
  };

  return {
    root,
    uri: (key) => uri(checkKey(key)),

    async put(key: string, body: Body, options: PutOptions = {}) {
      const Key = objectKey(key);
      const streamed = body instanceof Readable;
      const size = streamed ? Infinity : Buffer.byteLength(body);
      if (options.ifAbsent && streamed) throw new Error('put ifAbsent takes an in-memory body');
      await call(key, async () => {
        if (streamed || size > MULTIPART_THRESHOLD) {
          // S3 makes a multipart upload visible only on completion: never partial.
          await new Upload({
            client,
            params: { Bucket: bucket, Key, Body: body, ContentType: options.contentType },
            partSize: PART_SIZE,
            queueSize: 4,
            leavePartsOnError: false,
          }).done();
        } else {
          await client.send(
            new PutObjectCommand({
              Bucket: bucket,
              Key,
              Body: body,
              ContentType: options.contentType,
              IfNoneMatch: options.ifAbsent ? '*' : undefined,
            }),
          );
        }
      });
    },

    async get(key) {
      const stream = await this.getStream(key);
      const chunks: Buffer[] = [];
      for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array));
      return Buffer.concat(chunks);
    },

    async getStream(key) {
      const response = await call(key, () => client.send(new GetObjectCommand({ Bucket: bucket, Key: objectKey(key) })));
      if (!(response.Body instanceof Readable)) throw new Error(`S3 returned no body for ${uri(key)}`);
      return response.Body;
    },

    async stat(key) {
      try {
        const head = await call(key, () => client.send(new HeadObjectCommand({ Bucket: bucket, Key: objectKey(key) })));
        return { key, size: head.ContentLength ?? 0 };
      } catch (error) {
        if (error instanceof NotFoundError && !/^bucket /.test(error.message)) return null;
        throw error;
      }
    },

    async exists(key) {
      return (await this.stat(key)) !== null;
    },

    async *list(listPrefix = '') {
      checkPrefix(listPrefix);
      const full = prefix ? `${prefix}/${listPrefix}` : listPrefix;
      let token: string | undefined;
      do {
        const page = await call(listPrefix, () =>
          client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: full, ContinuationToken: token })),
        );
        for (const object of page.Contents ?? []) {
          if (!object.Key) continue;
          const key = prefix ? object.Key.slice(prefix.length + 1) : object.Key;
          yield { key, size: object.Size ?? 0 } satisfies ObjectInfo;
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
    },

    async delete(key) {
      await call(key, () => client.send(new DeleteObjectCommand({ Bucket: bucket, Key: objectKey(key) })));
    },
  };
}
