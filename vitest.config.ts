import { defineConfig } from 'vitest/config';

// Three tiers, by cost: unit (pure, in-process), integration (contract suites and real processes
// on 127.0.0.1; one Ceph RGW for the whole run), infra (CDK synth assertions).
export default defineConfig({
  test: {
    // The infra tier is empty until the stack lands.
    passWithNoTests: true,
    projects: [
      {
        test: {
          name: 'unit',
          sequence: { groupOrder: 0 },
          include: ['test/unit/**/*.test.ts'],
        },
      },
      {
        test: {
          name: 'integration',
          sequence: { groupOrder: 1 },
          include: ['test/contract/**/*.test.ts', 'test/integration/**/*.test.ts'],
          globalSetup: ['test/helpers/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          // Suites share one S3 server and each starts its own processes; two cores.
          maxWorkers: 2,
        },
      },
      {
        test: {
          name: 'infra',
          sequence: { groupOrder: 2 },
          include: ['test/infra/**/*.test.ts'],
          testTimeout: 120_000,
        },
      },
    ],
  },
});
