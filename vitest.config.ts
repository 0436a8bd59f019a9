import { defineConfig } from 'vitest/config';

// Three projects: "unit" and "interop" run on the host ("interop" needs root, iproute2 and
// keepalived: it pairs our VRRP with keepalived in network namespaces); "kernel" runs only inside the UML guest
// (test/lab/run-kernel.js boots the guest and starts it there), because it needs the real IPVS module.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          environment: 'node',
        },
      },
      {
        test: {
          name: 'kernel',
          include: ['test/kernel/**/*.test.ts'],
          setupFiles: ['test/lab/kernel-file-guard.ts'],
          environment: 'node',
          pool: 'forks',
          fileParallelism: false,
          // The guest has one slow CPU: reusing the worker's module graph saves ~10 s per run.
          isolate: false,
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'interop',
          include: ['test/interop/**/*.test.ts'],
          environment: 'node',
          pool: 'forks',
          fileParallelism: false,
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
