import { describe, expect, it } from 'vitest';
import { formatRules, operationRule } from '../../src/ipvs/ipvsadm-rules.js';
import { destination, service } from '../../src/ipvs/model.js';

// Expected lines are what `ipvsadm -Sn` (1.31) printed in the UML guest for the same table.
describe('ipvsadm -Sn rules', () => {
  it('prints every kind of service and destination as ipvsadm does', () => {
    const web = service({
      address: '10.0.0.1', port: 80, scheduler: 'wrr',
      flags: { persistent: true }, timeout: 300, netmask: 24,
    });
    const dns = service({
      protocol: 'udp', address: '10.0.0.1', port: 53, scheduler: 'sh',
      flags: { onePacket: true, sched1: true, sched2: true },
    });
    const sip = service({
      protocol: 'sctp', address: '10.0.0.1', port: 5060, scheduler: 'mh',
      flags: { persistent: true, sched2: true }, timeout: 360, persistenceEngine: 'sip',
    });
    const v6 = service({ family: 'inet6', address: '2001:db8::1', port: 443, scheduler: 'rr', flags: { sched1: true } });
    const fw = service({ fwmark: 5, scheduler: 'rr' });
    const fw6 = service({ family: 'inet6', fwmark: 6, scheduler: 'rr', flags: { persistent: true }, timeout: 100, netmask: 64 });
    const lines = formatRules([
      {
        service: web,
        destinations: [
          destination({ address: '10.0.0.2', port: 80, weight: 3, upperThreshold: 100, lowerThreshold: 10 }),
          destination({ address: '10.0.0.3', port: 80, forward: 'route', weight: 0 }),
          destination({ address: '10.0.0.6', port: 80, forward: 'tunnel' }),
          destination({ address: '10.0.0.4', port: 80, forward: 'tunnel', tunnelType: 'gue', tunnelPort: 6080 }),
          destination({ address: '10.0.0.5', port: 80, forward: 'tunnel', tunnelType: 'gre', tunnelChecksum: 'csum' }),
        ],
      },
      { service: dns, destinations: [] },
      { service: sip, destinations: [] },
      { service: v6, destinations: [destination({ address: '2001:db8::2', port: 8443 })] },
      { service: fw, destinations: [destination({ address: '10.0.0.9', forward: 'route', weight: 2 })] },
      { service: fw6, destinations: [destination({ address: '2001:db8::9', forward: 'route', weight: 2 })] },
    ]);
    expect(lines).toEqual([
      '-A --sctp-service 10.0.0.1:5060 -s mh -p 360 --pe sip -b mh-port',
      '-A -f 5 -s rr',
      '-A -f 6 -6 -s rr -p 100 -M 64',
      '-A -t 10.0.0.1:80 -s wrr -p 300 -M 255.255.255.0',
      '-A -t [2001:db8::1]:443 -s rr -b flag-1',
      '-A -u 10.0.0.1:53 -s sh -o -b sh-fallback,sh-port',
      '-a -f 5 -r 10.0.0.9:0 -g -w 2',
      '-a -f 6 -6 -r [2001:db8::9]:0 -g -w 2',
      '-a -t 10.0.0.1:80 -r 10.0.0.2:80 -m -w 3',
      '-a -t 10.0.0.1:80 -r 10.0.0.3:80 -g -w 0',
      '-a -t 10.0.0.1:80 -r 10.0.0.4:80 -i -w 1 --tun-type gue --tun-port 6080 --tun-nocsum',
      '-a -t 10.0.0.1:80 -r 10.0.0.5:80 -i -w 1 --tun-type gre --tun-csum',
      '-a -t 10.0.0.1:80 -r 10.0.0.6:80 -i -w 1 --tun-type ipip',
      '-a -t [2001:db8::1]:443 -r [2001:db8::2]:8443 -m -w 1',
    ]);
  });

  it('prints operations as the ipvsadm commands that would do them', () => {
    const s = service({ address: '10.0.0.1', port: 80, scheduler: 'rr' });
    const d = destination({ address: '10.0.0.2', port: 80, weight: 5 });
    expect(operationRule({ kind: 'update-service', service: s })).toBe('-E -t 10.0.0.1:80 -s rr');
    expect(operationRule({ kind: 'remove-service', service: s })).toBe('-D -t 10.0.0.1:80');
    expect(operationRule({ kind: 'update-destination', service: s, destination: d })).toBe(
      '-e -t 10.0.0.1:80 -r 10.0.0.2:80 -m -w 5',
    );
    expect(operationRule({ kind: 'remove-destination', service: s, destination: d })).toBe(
      '-d -t 10.0.0.1:80 -r 10.0.0.2:80',
    );
  });
});
