#!/usr/bin/env node
// `npm run demo`: boots the UML kernel lab (test/lab/guest.js) and runs demo/scenario.js in it, its
// output streamed as it goes. Inside a guest already (IPVSD_LAB=1), it runs the scenario directly.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LabError, labEnvFromHost, runInGuest } from '../test/lab/guest.js';

const repo = resolve(fileURLToPath(new URL('..', import.meta.url)));
const scenario = join(repo, 'demo/scenario.js');

if (!existsSync(join(repo, 'dist/src/cli/ipvsd.js'))) {
  process.stderr.write('demo: ipvsd is not built: run `npm run build` (or `bash scripts/setup.sh`) first\n');
  process.exit(1);
}
if (process.env.IPVSD_LAB === '1') {
  process.exit(spawnSync(process.execPath, [scenario], { stdio: 'inherit' }).status ?? 1);
}
process.stdout.write('demo: booting the User-Mode Linux kernel lab (a real IPVS kernel, about 3 s)\n');
try {
  const result = await runInGuest({ command: ['node', scenario], env: labEnvFromHost(), timeoutMs: 240_000, stream: true });
  if (result.timedOut) process.stdout.write(`demo: the guest ran out of time; its output is in ${result.workDir}\n`);
  process.exit(result.exitCode);
} catch (err) {
  if (!(err instanceof LabError)) throw err;
  process.stderr.write(`demo: ${err.message}\n`);
  process.exit(1);
}
