// The daemon with a VRRP instance, in the real kernel: the owner takes the VIP at once next to
// its IPVS service, and on SIGTERM gives the VIP up before its services, then exits quickly; a
// reload adds a VIP to the running master without a transition, and one without the instance
// releases its VIPs while the daemon and its services go on.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { savedRules } from '../lab/ipvsadm.js';
import { IpvsdProcess, sleep, tableBecomes, until } from '../lab/ipvsd-process.js';
import { assertInGuest } from '../lab/netns.js';

const ip = (...args: string[]) => execFileSync('ip', args, { encoding: 'utf8' });
const vipOnLink = (vip = '10.98.0.100/24') => ip('-o', '-4', 'addr', 'show', 'dev', 'vr0').includes(vip);

const conf = `
vrrp_instance VI_1 {
    state MASTER
    interface vr0
    virtual_router_id 51
    priority 255
    advert_int 1
    virtual_ipaddress {
        10.98.0.100/24
    }
}

virtual_server 10.98.0.100 80 {
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 127.0.0.21 8080 {
        weight 1
    }
}
`;

let scratch: string;
beforeAll(() => {
  assertInGuest();
  ip('link', 'add', 'vr0', 'type', 'veth', 'peer', 'name', 'vr1');
  ip('addr', 'add', '10.98.0.1/24', 'dev', 'vr0');
  ip('link', 'set', 'vr0', 'up');
  ip('link', 'set', 'vr1', 'up');
  scratch = mkdtempSync(join(tmpdir(), 'ipvsd-vrrp-'));
  writeFileSync(join(scratch, 'keepalived.conf'), conf);
});
afterAll(() => {
  ip('link', 'del', 'vr0');
  rmSync(scratch, { recursive: true, force: true });
});

describe('ipvsd with a VRRP instance', () => {
  it('as the address owner takes the VIP, and on SIGTERM releases it and its service quickly', async () => {
    const daemon = new IpvsdProcess(['-f', join(scratch, 'keepalived.conf')]);
    try {
      await daemon.waitForEvent('started', 0, 20_000);
      await tableBecomes(['-A -t 10.98.0.100:80 -s rr', '-a -t 10.98.0.100:80 -r 127.0.0.21:8080 -m -w 1'], 5000);
      const started = performance.now();
      while (!vipOnLink() && performance.now() - started < 3000) await sleep(20);
      expect(vipOnLink()).toBe(true);

      const stopMs = await daemon.stop();
      expect(vipOnLink()).toBe(false);
      expect(savedRules()).toEqual([]);
      expect(stopMs).toBeLessThan(1000);
      console.log(`daemon-vrrp figures: VIP owned ${Math.round(performance.now() - started)} ms after start event, stop ${Math.round(stopMs)} ms`);
    } finally {
      await daemon.stop();
    }
  });

  it('applies VRRP changes on SIGHUP: a VIP added to the running master, then the instance removed', async () => {
    const file = join(scratch, 'reload.conf');
    writeFileSync(file, conf);
    const daemon = new IpvsdProcess(['-f', file]);
    try {
      await daemon.waitForEvent('started', 0, 20_000);
      expect(await until(() => vipOnLink(), 3000)).toBe(true);
      const transitions = () => daemon.events('vrrp-transition').length;
      const before = transitions();

      writeFileSync(file, conf.replace('10.98.0.100/24', '10.98.0.100/24\n        10.98.0.101/24'));
      let mark = daemon.logs.length;
      daemon.child.kill('SIGHUP');
      await daemon.waitForEvent('reloaded', mark, 10_000);
      expect(await until(() => vipOnLink('10.98.0.101/24'), 3000)).toBe(true);
      expect(vipOnLink()).toBe(true);
      expect(transitions()).toBe(before);

      writeFileSync(file, conf.replace(/vrrp_instance[^]*?\n}\n/, ''));
      mark = daemon.logs.length;
      daemon.child.kill('SIGHUP');
      await daemon.waitForEvent('reloaded', mark, 10_000);
      expect(await until(() => !vipOnLink() && !vipOnLink('10.98.0.101/24'), 3000)).toBe(true);
      expect(daemon.alive).toBe(true);
      expect(savedRules()).toEqual(['-A -t 10.98.0.100:80 -s rr', '-a -t 10.98.0.100:80 -r 127.0.0.21:8080 -m -w 1']);
    } finally {
      await daemon.stop();
    }
  });
});
