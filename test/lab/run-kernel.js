#!/usr/bin/env node
// @ts-check
// The kernel tier: one guest boot runs every kernel test file (or those named on the command
// line) in one vitest, then the host reads vitest's JSON report and prints the counts.
// Any other vitest project that needs the guest runs the same way (runGuestTier).

import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LabError, labEnvFromHost, runInGuest } from './guest.js';
import { notRun, tierFromReport } from './tier-report.js';

// The project name and the filters arrive as "$1" and the rest of "$@".
const VITEST_IN_GUEST = 'project=$1; shift; exec node_modules/.bin/vitest run --project "$project"'
  + ' --reporter=default --reporter=json --outputFile.json="$IPVSD_LAB_WORKDIR/$project.json" "$@"';

/**
 * Runs the kernel tier in one guest and prints its summary line.
 * @param {string[]} [filters]  vitest file filters and options
 */
export function runKernelTier(filters = []) {
  return runGuestTier('kernel', filters);
}

/**
 * Runs one vitest project in one guest boot and prints its summary line.
 * @param {string} project  the vitest project name, also the tier's name
 * @param {string[]} [filters]  vitest file filters and options
 * @returns {Promise<import('./tier-report.js').TierResult>}
 */
export async function runGuestTier(project, filters = []) {
  const timeoutMs = Number(process.env.IPVSD_LAB_TIMEOUT ?? 900) * 1000;
  let result;
  try {
    result = await runInGuest({
      command: ['sh', '-c', VITEST_IN_GUEST, 'vitest', project, ...filters],
      env: { ...labEnvFromHost(), NO_COLOR: '1' },
      timeoutMs,
      stream: true,
    });
  } catch (error) {
    if (!(error instanceof LabError)) throw error;
    if (error.cannotBoot) return noKernel(project, error.message);
    process.stdout.write(`${project} tier: FAILED: ${error.message}\n`);
    return notRun(project);
  }
  if (result.timedOut) {
    process.stdout.write(`${project} tier: FAILED: the guest ran out of time after ${timeoutMs / 1000} s (IPVSD_LAB_TIMEOUT); its output is in ${result.workDir}\n`);
    return notRun(project);
  }
  if (result.missingModules.length > 0) {
    process.stdout.write(`${project} tier: warning: modprobe failed for ${result.missingModules.join(', ')}\n`);
  }
  const t = result.timings;
  if (t) {
    process.stdout.write(`${project} tier: boot ${seconds(t.bootMs)}, modules ${seconds(t.modulesMs)}, vitest ${seconds(t.commandMs)}, total ${seconds(t.totalMs)}\n`);
  }
  return tierFromReport(project, join(result.workDir, `${project}.json`), result.exitCode);
}

/**
 * The guest cannot boot: always loud; a failure unless IPVSD_ALLOW_NO_KERNEL=1 outside CI.
 * @param {string} project
 * @param {string} message
 * @returns {import('./tier-report.js').TierResult}
 */
function noKernel(project, message) {
  const allowed = process.env.IPVSD_ALLOW_NO_KERNEL === '1' && process.env.CI !== 'true';
  const banner = '!'.repeat(78);
  process.stdout.write(`${banner}\n!! ${project} tier NOT RUN: ${message}\n`);
  let verdict = '!! This is a failure (outside CI, IPVSD_ALLOW_NO_KERNEL=1 lets the run continue without them).';
  if (allowed) verdict = `!! IPVSD_ALLOW_NO_KERNEL=1: continuing WITHOUT the ${project} tests.`;
  else if (process.env.CI === 'true') verdict = '!! CI=true: this is a failure.';
  process.stdout.write(`${verdict}\n`);
  process.stdout.write(`${banner}\n`);
  return { ...notRun(project), ok: allowed };
}

/** @param {number} ms */
function seconds(ms) {
  return `${(ms / 1000).toFixed(2)} s`;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const tier = await runKernelTier(process.argv.slice(2));
  process.exitCode = tier.ok ? 0 : 1;
}
