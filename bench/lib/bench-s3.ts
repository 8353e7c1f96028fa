import { ensureCephInstalled, startCephRgw } from '../../test/helpers/ceph-rgw.ts';

/**
 * Starts a Ceph RGW for a benchmark and returns the s3 backend config pointing at it; the stop
 * function is pushed onto `stops` so the bench's cleanup runs it (also on failure or Ctrl-C).
 */
export async function startBenchS3(
  stops: (() => Promise<unknown>)[],
): Promise<Record<string, unknown>> {
  await ensureCephInstalled();
  const rgw = await startCephRgw();
  stops.push(rgw.stop);
  return {
    name: 's3',
    region: rgw.region,
    endpoint: rgw.endpoint,
    forcePathStyle: true,
    accessKeyId: rgw.accessKeyId,
    secretAccessKey: rgw.secretAccessKey,
  };
}
