import type { TestProject } from 'vitest/node';
import { ensureCephInstalled, startCephRgw } from './ceph-rgw.ts';
import './provided-context.ts';

/**
 * globalSetup of the `integration` project: one Ceph RGW for the whole run (it takes seconds to
 * start), shared by every test file through `inject('s3')`. Fails the run when Ceph cannot be
 * installed or started; S3 tests are never skipped.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  await ensureCephInstalled();
  const started = performance.now();
  const rgw = await startCephRgw();
  console.log(`[global-setup] Ceph RGW at ${rgw.endpoint} started in ${seconds(started)}`);
  project.provide('s3', {
    endpoint: rgw.endpoint,
    region: rgw.region,
    accessKeyId: rgw.accessKeyId,
    secretAccessKey: rgw.secretAccessKey,
  });
  return async () => {
    const stopping = performance.now();
    await rgw.stop();
    console.log(`[global-setup] Ceph RGW stopped in ${seconds(stopping)}`);
  };
}

function seconds(since: number): string {
  return `${((performance.now() - since) / 1000).toFixed(1)} s`;
}
