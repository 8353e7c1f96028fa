import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WireClient } from '../helpers/go-dfstore-wire.ts';
import { describeBadInput } from './dfstore-protocol-bad-input.suite.ts';
import { describeObjects } from './dfstore-protocol-objects.suite.ts';
import { describeReads } from './dfstore-protocol-reads.suite.ts';
import { expectJsonError, json, type ProtocolTarget } from './dfstore-protocol-target.ts';

export interface DfstoreProtocolFixture {
  /** `http://127.0.0.1:<port>` of a server speaking the dfstore protocol. */
  readonly api: string;
  /** What `GET /metadata` must report as `Name`. */
  readonly backendName: 's3' | 'oss' | 'fs';
  /** Sent with every request (the object API function's credentials). */
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * The host's inline body limit (the object API function): `GET /metadata` also reports it,
   * and objects above it are left out (they take redirects and upload sessions instead).
   */
  readonly inlineLimit?: number;
  close(): Promise<void>;
}

/**
 * The dfstore HTTP protocol (PROTOCOL.md §2–§4) as Dragonfly's Go client and JuiceFS speak it,
 * checked over HTTP only, so one suite covers every host: an in-process peer node, the daemon
 * process and the Lambda function host. Each test sends the exact request the Go client sends
 * (test/helpers/go-dfstore-wire.ts) and checks status, headers and body.
 */
export function testDfstoreProtocol(
  name: string,
  setup: () => Promise<DfstoreProtocolFixture>,
): void {
  describe(`dfstore protocol: ${name}`, () => {
    let fixture: DfstoreProtocolFixture | undefined;
    let target: ProtocolTarget | undefined;
    const t = (): ProtocolTarget => {
      if (!target) throw new Error('protocol target is not set up');
      return target;
    };

    beforeAll(async () => {
      fixture = await setup();
      const http = new WireClient(fixture.api, fixture.headers);
      const bucket = `protocol-${randomBytes(5).toString('hex')}`;
      const created = await http.send('POST', `/buckets/${bucket}`, { body: Buffer.alloc(0) });
      expect(created.status, 'POST /buckets/:bucket in setup').toBe(200);
      const { api, backendName, inlineLimit } = fixture;
      target = { api, backendName, bucket, http, inlineLimit };
    });
    afterAll(async () => {
      await target?.http.close();
      await fixture?.close();
    });

    describe('service routes', () => {
      it('GET /healthy answers 200 with the JSON string "OK"', async () => {
        const response = await t().http.send('GET', '/healthy');
        expect(response.status).toBe(200);
        expect(json(response)).toBe('OK');
      });

      it('GET /metadata names the backend with Go field names', async () => {
        const response = await t().http.send('GET', '/metadata');
        expect(response.status).toBe(200);
        const body = json(response) as Record<string, unknown>;
        const limit = t().inlineLimit;
        const extra = limit === undefined ? [] : ['inlineLimit'];
        expect(Object.keys(body).sort()).toEqual(['Endpoint', 'Name', 'Region', ...extra]);
        if (limit !== undefined) expect(body.inlineLimit).toBe(limit);
        expect(body.Name).toBe(t().backendName);
        expect(typeof body.Region).toBe('string');
        expect(typeof body.Endpoint).toBe('string');
      });
    });

    describe('POST /buckets/:bucket', () => {
      it('creates a bucket: 200 with an empty body, and objects can be stored in it', async () => {
        const bucket = `protocol-new-${randomBytes(5).toString('hex')}`;
        const response = await t().http.send('POST', `/buckets/${bucket}`, {
          body: Buffer.alloc(0),
        });
        expect(response.status).toBe(200);
        expect(response.body).toHaveLength(0);
        const listed = await t().http.send('GET', `/buckets/${bucket}/metadatas?limit=10`);
        expect(listed.status).toBe(200);
        expect(json(listed)).toMatchObject({ Metadatas: [] });
      });

      it.each([
        ['upper case', 'Bad-Bucket'],
        ['underscore', 'bad_bucket'],
        ['too short', 'ab'],
        ['too long', 'a'.repeat(64)],
        ['a dot-dot', 'a..b'],
        ['an IPv4 address', '192.168.1.1'],
        ['percent-encoded slash', 'ab%2Fcd'],
      ])('rejects an invalid bucket name (%s) with 422 JSON', async (_, bucket) => {
        const response = await t().http.send('POST', `/buckets/${bucket}`, {
          body: Buffer.alloc(0),
        });
        expectJsonError(response, 422);
      });
    });

    describeObjects(t);
    describeReads(t);
    describeBadInput(t);
  });
}
