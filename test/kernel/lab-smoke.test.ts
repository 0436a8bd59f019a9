// Proves the lab guest is a real kernel with IPVS, ipvsadm and network namespaces, so a
// failing kernel test points at the project and not at the lab.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { release } from 'node:os';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  assertInGuest, bridge, cleanup, createNamespace, linkExists, namespaces, run, tcpConnect, vethPair,
} from '../lab/netns.js';

import { ipvsadm } from '../lab/ipvsadm.js';

beforeAll(() => {
  assertInGuest();
});

describe('the guest kernel', () => {
  afterEach(() => {
    ipvsadm('-C');
  });

  it('has IPVS loaded', () => {
    expect(existsSync('/proc/net/ip_vs')).toBe(true);
    expect(readFileSync('/proc/net/ip_vs', 'utf8')).toMatch(/^IP Virtual Server version \d+\.\d+\.\d+/);
    expect(ipvsadm('-Ln')).toMatch(/^IP Virtual Server version/);
  });

  it('loaded every scheduler the project offers', () => {
    const modules = readFileSync('/proc/modules', 'utf8');
    for (const scheduler of ['rr', 'wrr', 'lc', 'wlc', 'lblc', 'lblcr', 'dh', 'sh', 'sed', 'nq', 'mh', 'fo', 'ovf']) {
      expect(modules).toMatch(new RegExp(`^ip_vs_${scheduler} `, 'm'));
    }
  });

  it('takes a virtual service from ipvsadm and gives it back', () => {
    expect(ipvsadm('-Sn').trim()).toBe('');
    ipvsadm('-A', '-t', '10.0.0.1:80', '-s', 'rr');
    expect(ipvsadm('-Sn').trim().split('\n')).toEqual(['-A -t 10.0.0.1:80 -s rr']);
    ipvsadm('-D', '-t', '10.0.0.1:80');
    expect(ipvsadm('-Sn').trim()).toBe('');
  });

  it('is the UML kernel whose modules the lab bound in, not the host', () => {
    expect(readdirSync('/usr/lib/uml/modules')).toContain(release());
    expect(existsSync(`/lib/modules/${release()}/modules.dep`)).toBe(true);
  });
});

describe('network namespaces in the guest', () => {
  afterEach(async () => {
    await cleanup();
  });

  it('connects two namespaces through a veth pair and removes them', async () => {
    createNamespace('smoke-a');
    createNamespace('smoke-b');
    vethPair({ name: 'sa0', ns: 'smoke-a', addresses: ['192.0.2.1/24'] }, { name: 'sb0', ns: 'smoke-b', addresses: ['192.0.2.2/24'] });
    expect(namespaces()).toEqual(expect.arrayContaining(['smoke-a', 'smoke-b']));
    await expect(tcpConnect('smoke-a', '192.0.2.2', 9)).resolves.toBe('refused');
  });

  it('joins namespaces through a bridge in the root namespace', async () => {
    createNamespace('smoke-c');
    createNamespace('smoke-d');
    vethPair({ name: 'sc0', ns: 'smoke-c', addresses: ['198.51.100.1/24'] }, { name: 'smc' });
    vethPair({ name: 'sd0', ns: 'smoke-d', addresses: ['198.51.100.2/24'] }, { name: 'smd' });
    bridge('smokebr', ['smc', 'smd'], ['198.51.100.254/24']);
    expect(run(['ip', '-d', 'link', 'show', 'smokebr'])).toMatch(/stp_state 0/);
    await expect(tcpConnect('smoke-c', '198.51.100.2', 9)).resolves.toBe('refused');
    await expect(tcpConnect('smoke-c', '198.51.100.3', 9, 1)).resolves.toBe('unreachable');

    // A server in this process, on the bridge's address, is reachable from a namespace.
    const server = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => server.listen(0, '198.51.100.254', resolve));
    const accepted = new Promise<void>((resolve) => server.once('connection', () => resolve()));
    const { port } = server.address() as AddressInfo;
    await expect(tcpConnect('smoke-d', '198.51.100.254', port)).resolves.toBe('connected');
    await accepted;
    await new Promise((resolve) => server.close(resolve));

    await cleanup();
    expect(namespaces()).not.toContain('smoke-c');
    expect(namespaces()).not.toContain('smoke-d');
    expect(linkExists('smokebr')).toBe(false);
    expect(linkExists('smc')).toBe(false);
  });
});
