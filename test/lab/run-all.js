#!/usr/bin/env node
// @ts-check
// `npm test`: every tier in turn, then one line the CI judge reads:
// "tests: N passed, N failed". Exits non-zero if any tier failed or could not run.

import { runHostTier } from './host-tier.js';
import { runKernelTier } from './run-kernel.js';

// A new tier is one line: runHostTier('<vitest project>') or runGuestTier('<vitest project>').
/** @type {{ name: string, run: () => Promise<import('./tier-report.js').TierResult> }[]} */
const TIERS = [
  { name: 'unit', run: () => runHostTier('unit') },
  { name: 'interop', run: () => runHostTier('interop') },
  { name: 'kernel', run: () => runKernelTier() },
];

let passed = 0;
let failed = 0;
let ok = true;
for (const tier of TIERS) {
  process.stdout.write(`\n=== ${tier.name} tier ===\n`);
  const result = await tier.run();
  passed += result.passed;
  failed += result.failed;
  if (!result.ok && result.failed === 0) {
    // A tier that could not run, or whose vitest failed outside any test, must not leave a
    // clean-looking total behind.
    process.stdout.write(`${tier.name} tier failed without a failing test: counted as 1 failed\n`);
    failed += 1;
  }
  ok &&= result.ok;
}
process.stdout.write(`tests: ${passed} passed, ${failed} failed\n`);
process.exitCode = ok ? 0 : 1;
