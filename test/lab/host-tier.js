// @ts-check
// A vitest project that runs on the host (the unit tier; later the interop tier).

import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT, newWorkDir } from './guest.js';
import { notRun, tierFromReport } from './tier-report.js';

/**
 * Runs `vitest run --project <project>` on the host with its usual output, then judges the
 * JSON report it wrote into a fresh .lab/ directory.
 * @param {string} project  the vitest project name, also the tier's name
 * @param {string[]} [filters]  vitest file filters
 * @returns {Promise<import('./tier-report.js').TierResult>}
 */
export async function runHostTier(project, filters = []) {
  const workDir = await newWorkDir(project);
  const reportPath = join(workDir, `${project}.json`);
  const args = ['run', '--project', project, '--reporter=default', '--reporter=json', `--outputFile.json=${reportPath}`, ...filters];
  /** @type {number | Error} */
  const exit = await new Promise((resolve) => {
    const child = spawn(join(REPO_ROOT, 'node_modules/.bin/vitest'), args, { cwd: REPO_ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
    child.once('error', resolve);
    child.once('exit', (code) => resolve(code ?? 1));
  });
  if (exit instanceof Error) {
    process.stdout.write(`${project} tier: FAILED: cannot start vitest (${exit.message}); run npm install first\n`);
    return notRun(project);
  }
  return tierFromReport(project, reportPath, exit);
}
