import { drain, type RequestContext, sendEmpty, sendXml } from './http.ts';
import { listPage } from './listing.ts';
import { invalidArgument, notImplemented, OssError } from './oss-error.ts';
import { isSubResource } from './signature.ts';
import { compareBytes } from './store.ts';
import { OWNER } from './xml.ts';

const BUCKET_NAME_RE = /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;
const MAX_KEYS = 1000;

/** GET / (ListBuckets, "GetService"), with prefix, marker and max-keys. */
export function listBuckets(ctx: RequestContext) {
  if (ctx.method !== 'GET') throw methodNotAllowed();
  const prefix = ctx.query.get('prefix') ?? '';
  const marker = ctx.query.get('marker') ?? '';
  const maxKeys = parseMaxKeys(ctx.query.get('max-keys'));
  const all = ctx.store
    .listBuckets()
    .filter(({ name }) => name.startsWith(prefix) && compareBytes(name, marker) > 0);
  const page = all.slice(0, maxKeys);
  const isTruncated = all.length > page.length;
  sendXml(ctx, 200, 'ListAllMyBucketsResult', {
    Prefix: prefix,
    Marker: marker,
    MaxKeys: maxKeys,
    IsTruncated: isTruncated,
    ...(isTruncated ? { NextMarker: page.at(-1)?.name } : {}),
    Owner: OWNER,
    Buckets: { Bucket: page.map((bucket) => bucketInfo(ctx, bucket.name, bucket.createdAt)) },
  });
}

export async function handleBucket(ctx: RequestContext, bucket: string) {
  const subResource = [...ctx.query.keys()].find(isSubResource);
  switch (`${ctx.method} ${subResource ?? ''}`) {
    case 'PUT ': {
      drain(ctx);
      if (!BUCKET_NAME_RE.test(bucket)) {
        throw new OssError(400, 'InvalidBucketName', 'The specified bucket is not valid.', {
          BucketName: bucket,
        });
      }
      await ctx.store.createBucket(bucket);
      return sendEmpty(ctx, 200, { location: `/${bucket}` });
    }
    case 'DELETE ':
      await ctx.store.deleteBucket(bucket, ctx.uploads.countIn(bucket));
      return sendEmpty(ctx, 204);
    case 'GET ':
      if (ctx.query.get('list-type') === '2') throw notImplemented('ListObjectsV2');
      return listObjects(ctx, bucket);
    case 'GET bucketInfo': {
      const { createdAt } = ctx.store.bucket(bucket);
      const info = {
        ...bucketInfo(ctx, bucket, createdAt),
        Owner: OWNER,
        AccessControlList: { Grant: 'private' },
      };
      return sendXml(ctx, 200, 'BucketInfo', { Bucket: info });
    }
    case 'GET location':
      ctx.store.bucket(bucket);
      return sendXml(ctx, 200, 'LocationConstraint', { '#text': ctx.region });
    default:
      throw subResource === undefined
        ? methodNotAllowed()
        : notImplemented(`${ctx.method} bucket ?${subResource}`);
  }
}

/** ListObjects (v1). `encoding-type=url` percent-encodes every key and prefix in the answer. */
function listObjects(ctx: RequestContext, bucket: string) {
  const { query } = ctx;
  const encodingType = query.get('encoding-type');
  if (encodingType !== null && encodingType !== 'url') {
    throw invalidArgument(
      'Invalid Encoding Method specified in Request',
      'encoding-type',
      encodingType,
    );
  }
  const encode = encodingType === 'url' ? encodeURIComponent : (value: string) => value;
  const prefix = query.get('prefix') ?? '';
  const marker = query.get('marker') ?? '';
  const delimiter = query.get('delimiter') ?? '';
  const maxKeys = parseMaxKeys(query.get('max-keys'));
  const page = listPage(ctx.store.bucket(bucket).objects.values(), {
    prefix,
    marker,
    delimiter,
    maxKeys,
  });
  sendXml(ctx, 200, 'ListBucketResult', {
    Name: bucket,
    Prefix: encode(prefix),
    Marker: encode(marker),
    MaxKeys: maxKeys,
    Delimiter: encode(delimiter),
    ...(encodingType ? { EncodingType: encodingType } : {}),
    IsTruncated: page.isTruncated,
    ...(page.nextMarker === undefined ? {} : { NextMarker: encode(page.nextMarker) }),
    Contents: page.objects.map((record) => ({
      Key: encode(record.key),
      LastModified: record.lastModified,
      ETag: record.etag,
      Type: record.type,
      Size: record.size,
      StorageClass: 'Standard',
      Owner: OWNER,
    })),
    CommonPrefixes: page.prefixes.map((prefix) => ({ Prefix: encode(prefix) })),
  });
}

function bucketInfo(ctx: RequestContext, name: string, createdAt: string) {
  return {
    Name: name,
    CreationDate: createdAt,
    Location: ctx.region,
    Region: ctx.region.replace(/^oss-/, ''),
    ExtranetEndpoint: ctx.host,
    IntranetEndpoint: ctx.host,
    StorageClass: 'Standard',
  };
}

/** max-keys: 100 when absent, at most 1000, as OSS. */
function parseMaxKeys(value: string | null): number {
  if (value === null) return 100;
  const maxKeys = Number(value);
  if (!/^\d+$/.test(value) || maxKeys > MAX_KEYS) {
    throw invalidArgument('Argument max-keys is invalid.', 'max-keys', value);
  }
  return maxKeys;
}

function methodNotAllowed() {
  return new OssError(
    405,
    'MethodNotAllowed',
    'The specified method is not allowed against this resource.',
  );
}
