// @ts-check
// Turns a vitest JSON report into one tier's counts and its summary line.

import { readFileSync } from 'node:fs';

/**
 * @typedef {object} TierResult
 * @property {string} name
 * @property {number} passed
 * @property {number} failed
 * @property {number} skipped
 * @property {boolean} ok  false on any failure, on zero tests, or when the tier could not run
 */

/**
 * Counts from a vitest JSON report. A file that fails to load has no test results of its
 * own, so each failed file without a failed test counts as one failure.
 * @param {string} text
 * @returns {{ passed: number, failed: number, skipped: number }}
 */
export function countsFromReport(text) {
  const report = JSON.parse(text);
  /** @type {{ status: string, assertionResults?: { status: string }[] }[]} */
  const files = report.testResults ?? [];
  const brokenFiles = files.filter(
    (file) => file.status === 'failed' && !(file.assertionResults ?? []).some((test) => test.status === 'failed'),
  ).length;
  return {
    passed: report.numPassedTests ?? 0,
    failed: (report.numFailedTests ?? 0) + brokenFiles,
    skipped: (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0),
  };
}

/**
 * Reads the report vitest wrote, prints "<name> tier: N tests executed, ..." and judges it.
 * @param {string} name
 * @param {string} reportPath
 * @param {number} exitCode  vitest's own status, which also catches errors outside tests
 * @returns {TierResult}
 */
export function tierFromReport(name, reportPath, exitCode) {
  let counts;
  try {
    counts = countsFromReport(readFileSync(reportPath, 'utf8'));
  } catch (error) {
    process.stdout.write(`${name} tier: FAILED: vitest exited with status ${exitCode} and left no readable report (${/** @type {Error} */ (error).message})\n`);
    return notRun(name);
  }
  const executed = counts.passed + counts.failed;
  process.stdout.write(`${name} tier: ${executed} tests executed, ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped\n`);
  if (executed === 0) process.stdout.write(`${name} tier: FAILED: no test was executed\n`);
  else if (counts.failed === 0 && exitCode !== 0) process.stdout.write(`${name} tier: FAILED: vitest exited with status ${exitCode}\n`);
  return { name, ...counts, ok: executed > 0 && counts.failed === 0 && exitCode === 0 };
}

/**
 * A tier that produced no counts.
 * @param {string} name
 * @returns {TierResult}
 */
export function notRun(name) {
  return { name, passed: 0, failed: 0, skipped: 0, ok: false };
}
