// `npm run demo` end to end in the guest: the scenario (client, two ipvsd directors from
// examples/lvs-nat/, three web servers) runs to its summary, and leaves nothing behind.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { assertInGuest, linkExists, namespaces } from '../lab/netns.js';

const scenario = fileURLToPath(new URL('../../demo/scenario.js', import.meta.url));

function runScenario(): Promise<{ status: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [scenario], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.once('error', reject);
    child.once('close', (status) => resolve({ status, output }));
  });
}

beforeAll(() => assertInGuest());

describe('the demo', () => {
  it('kills a real server and the master director, restarts and stops the master, and prints the timings next to keepalived\'s', async () => {
    const { status, output } = await runScenario();
    console.log(output);
    expect(status, output).toBe(0);
    const summary = output.slice(output.indexOf('\nSummary'));
    const removal = /real server killed -> out of the table\s+(\d+\.\d+) s\s+3\.00 s/.exec(summary);
    const failover = /master killed -> backup holds the VIP\s+(\d+\.\d+) s\s+2\.76 s/.exec(summary);
    expect(removal, summary).not.toBeNull();
    expect(failover, summary).not.toBeNull();
    // HTTP_GET with delay_loop 1, retry 2, delay_before_retry 1: down after 2..3 s; VRRP advert 1 s,
    // priority 100: Master_Down 3.61 s at most after the last advert. Slack for the polling.
    expect(Number(removal![1])).toBeGreaterThan(1.5);
    expect(Number(removal![1])).toBeLessThan(4.5);
    expect(Number(failover![1])).toBeGreaterThan(2);
    expect(Number(failover![1])).toBeLessThan(4.5);
    const handover = /master stopped -> backup holds the VIP\s+(\d+\.\d+) s\s+0\.624 s/.exec(summary);
    expect(handover, summary).not.toBeNull();
    // SIGTERM: priority 0 at once, so the backup takes over after Skew_Time (0.61 s for priority 100).
    expect(Number(handover![1])).toBeLessThan(2);
    expect(summary).toMatch(/master restarted -> holds the VIP again\s+\d+\.\d+ s/);
    expect(summary.match(/client requests failed meanwhile\s+\d+ of \d+/g)).toHaveLength(3);
    expect(output).toMatch(/demo: finished in \d+\.\d+ s\n$/);
    expect(namespaces().filter((n) => n.startsWith('demo-'))).toEqual([]);
    expect(linkExists('demo0')).toBe(false);
  }, 180_000);
});
