import { randomBytes } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { handleBucket, listBuckets } from './bucket-routes.ts';
import type { RequestContext } from './http.ts';
import { handleObject } from './object-routes.ts';
import { OssError } from './oss-error.ts';
import { type Credentials, verifySignature } from './signature.ts';
import { OssStore } from './store.ts';
import { Uploads } from './uploads.ts';
import { errorXml } from './xml.ts';

export interface OssServerOptions extends Credentials {
  /** Where objects live; a temp dir (removed on close) when absent. */
  readonly dataDir?: string;
  /** Reported as bucket location; default `oss-cn-hangzhou`. */
  readonly region?: string;
}

export interface OssServer {
  /** `http://localhost:PORT`: use with ali-oss `sldEnable: true` (path-style `/bucket/key`). */
  readonly endpoint: string;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Starts the project's OSS-protocol test server on 127.0.0.1 (ephemeral port). It speaks the
 * subset of the Aliyun OSS API that the `ali-oss` adapter uses, path-style, and verifies the V1
 * signature of every request (header or presigned query), answering errors as OSS does.
 * ali-oss needs a host name endpoint (it forces a virtual-host `Host` header for IP endpoints and
 * refuses to presign for them); `localhost` resolves to 127.0.0.1 here (/etc/hosts).
 */
export async function startOssServer(options: OssServerOptions): Promise<OssServer> {
  const addresses = await lookup('localhost', { all: true });
  if (!addresses.some(({ address }) => address === '127.0.0.1')) {
    throw new Error('the OSS test server needs "localhost" to resolve to 127.0.0.1 (/etc/hosts)');
  }
  const ownsDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'oss-server-')));
  const store = await OssStore.open(dataDir);
  const uploads = new Uploads(store);
  const region = options.region ?? 'oss-cn-hangzhou';
  const credentials = {
    accessKeyId: options.accessKeyId,
    accessKeySecret: options.accessKeySecret,
  };

  const server = createServer((req, res) => {
    void handle(req, res, { store, uploads, region, credentials });
  });
  // Longer than the keep-alive idle time of ali-oss's agent (15 s), so the client never reuses
  // a socket the server is closing.
  server.keepAliveTimeout = 60_000;
  // Multi-GiB uploads outlast Node's default 5-minute limit per request.
  server.requestTimeout = 0;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://localhost:${port}`,
    port,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (ownsDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

interface ServerState {
  readonly store: OssStore;
  readonly uploads: Uploads;
  readonly region: string;
  readonly credentials: Credentials;
}

async function handle(req: IncomingMessage, res: ServerResponse, state: ServerState) {
  const requestId = randomBytes(12).toString('hex').toUpperCase();
  const host = req.headers.host ?? 'localhost';
  res.setHeader('x-oss-request-id', requestId);
  res.setHeader('server', 'AliyunOSS');
  res.setHeader('date', new Date().toUTCString());
  try {
    const method = req.method ?? 'GET';
    const [rawPath = '/', rawQuery = ''] = (req.url ?? '/').split(/\?(.*)/s);
    const query = new URLSearchParams(rawQuery);
    const { bucket, key } = parsePath(rawPath);
    const resourcePath = bucket === undefined ? '/' : `/${bucket}/${key ?? ''}`;
    verifySignature({ method, headers: req.headers, resourcePath, query }, state.credentials);
    const ctx: RequestContext = { req, res, method, bucket, key, query, host, ...state };
    if (bucket === undefined) listBuckets(ctx);
    else if (key === undefined) await handleBucket(ctx, bucket);
    else await handleObject(ctx, bucket, key);
  } catch (error) {
    sendError(req, res, error, requestId, host);
  }
}

/** Path-style addressing: `/`, `/bucket`, `/bucket/` or `/bucket/key` (percent-decoded). */
function parsePath(rawPath: string): { bucket?: string; key?: string } {
  const match = /^\/([^/]*)(?:\/(.*))?$/s.exec(rawPath);
  if (!match) throw new OssError(400, 'InvalidURI', "Couldn't parse the specified URI.");
  try {
    const bucket = match[1] ? decodeURIComponent(match[1]) : undefined;
    const key = match[2] ? decodeURIComponent(match[2]) : undefined;
    return { bucket, key };
  } catch {
    throw new OssError(400, 'InvalidURI', "Couldn't parse the specified URI.");
  }
}

function sendError(
  req: IncomingMessage,
  res: ServerResponse,
  error: unknown,
  requestId: string,
  host: string,
) {
  const ossError =
    error instanceof OssError
      ? error
      : new OssError(500, 'InternalError', 'We encountered an internal error. Please try again.', {
          Detail: String(error),
        });
  req.resume();
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const xml = Buffer.from(errorXml(ossError, requestId, host));
  const headers: Record<string, string> = {
    ...ossError.headers,
    'content-type': 'application/xml',
  };
  if (req.method === 'HEAD') {
    // HEAD answers carry no body; OSS sends the error document base64-encoded in a header.
    headers['x-oss-err'] = xml.toString('base64');
    headers['content-length'] = '0';
    res.writeHead(ossError.status, headers);
    res.end();
    return;
  }
  headers['content-length'] = String(xml.length);
  res.writeHead(ossError.status, headers);
  res.end(xml);
}
