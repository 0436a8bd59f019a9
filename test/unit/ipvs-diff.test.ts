import { describe, expect, it } from 'vitest';
import { diffTables, type KernelEntry } from '../../src/ipvs/diff.js';
import { operationRule } from '../../src/ipvs/ipvsadm-rules.js';
import { destination, destinationKey, service, serviceKey, type ServiceEntry } from '../../src/ipvs/model.js';

const web = service({ address: '10.0.0.1', port: 80, scheduler: 'wrr' });
const api = service({ address: '10.0.0.1', port: 443, scheduler: 'rr' });
const foreign = service({ address: '10.9.9.9', port: 22, scheduler: 'rr' });
const rs = (n: number, weight = 1) => destination({ address: `10.0.1.${n}`, port: 80, weight });

function table(entries: ServiceEntry[]): Map<string, ServiceEntry> {
  return new Map(entries.map((e) => [serviceKey(e.service), e]));
}

function kernelOf(entries: ServiceEntry[]): Map<string, KernelEntry> {
  return new Map(
    entries.map((e) => [
      serviceKey(e.service),
      { service: e.service, destinations: new Map(e.destinations.map((d) => [destinationKey(d), d])) },
    ]),
  );
}

function rules(ops: ReturnType<typeof diffTables>['operations']): string[] {
  return ops.map(operationRule);
}

describe('diffTables', () => {
  it('creates everything in an empty kernel, services first', () => {
    const desired = table([{ service: web, destinations: [rs(1), rs(2)] }]);
    const { operations } = diffTables({ desired, kernel: new Map(), owned: new Set() });
    expect(rules(operations)).toEqual([
      '-A -t 10.0.0.1:80 -s wrr',
      '-a -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 1',
      '-a -t 10.0.0.1:80 -r 10.0.1.2:80 -m -w 1',
    ]);
  });

  it('does nothing when the kernel already matches', () => {
    const desired = table([{ service: web, destinations: [rs(1)] }]);
    const kernel = kernelOf([{ service: web, destinations: [rs(1)] }]);
    expect(diffTables({ desired, kernel, owned: new Set() }).operations).toEqual([]);
  });

  it('edits in place, adds before it removes, and never deletes a service to change it', () => {
    const desired = table([{ service: { ...web, scheduler: 'wlc' }, destinations: [rs(1, 3), rs(3)] }]);
    const kernel = kernelOf([{ service: web, destinations: [rs(1), rs(2)] }]);
    const { operations } = diffTables({ desired, kernel, owned: new Set([serviceKey(web)]) });
    expect(rules(operations)).toEqual([
      '-E -t 10.0.0.1:80 -s wlc',
      '-e -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 3',
      '-a -t 10.0.0.1:80 -r 10.0.1.3:80 -m -w 1',
      '-d -t 10.0.0.1:80 -r 10.0.1.2:80',
    ]);
  });

  it('removes an owned service that is no longer desired, and never a foreign one', () => {
    const desired = table([{ service: web, destinations: [] }]);
    const kernel = kernelOf([
      { service: web, destinations: [] },
      { service: api, destinations: [rs(1)] },
      { service: foreign, destinations: [rs(2)] },
    ]);
    const { operations } = diffTables({ desired, kernel, owned: new Set([serviceKey(web), serviceKey(api)]) });
    expect(rules(operations)).toEqual(['-D -t 10.0.0.1:443']);
  });

  it('leaves a service alone when its destinations could not be read', () => {
    const desired = table([{ service: web, destinations: [rs(1)] }]);
    const kernel = new Map<string, KernelEntry>([[serviceKey(web), { service: web, destinations: undefined }]]);
    const diff = diffTables({ desired, kernel, owned: new Set() });
    expect(diff.operations).toEqual([]);
    expect(diff.unknown).toEqual([serviceKey(web)]);
  });

  it('limits itself to the scope it is given', () => {
    const desired = table([
      { service: web, destinations: [rs(1, 2)] },
      { service: api, destinations: [rs(1)] },
    ]);
    const kernel = kernelOf([
      { service: web, destinations: [rs(1)] },
      { service: api, destinations: [] },
    ]);
    const { operations } = diffTables({ desired, kernel, owned: new Set(), scope: [serviceKey(web)] });
    expect(rules(operations)).toEqual(['-e -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 2']);
  });

  it('sees a tunnel setting change only for tunnel destinations', () => {
    const tun = destination({ address: '10.0.1.1', port: 80, forward: 'tunnel', tunnelType: 'gue', tunnelPort: 5555 });
    const desired = table([{ service: web, destinations: [{ ...tun, tunnelPort: 6666 }] }]);
    const kernel = kernelOf([{ service: web, destinations: [tun] }]);
    expect(diffTables({ desired, kernel, owned: new Set() }).operations).toHaveLength(1);
    const masqDesired = table([{ service: web, destinations: [{ ...rs(1), tunnelPort: 6666 }] }]);
    const masqKernel = kernelOf([{ service: web, destinations: [rs(1)] }]);
    expect(diffTables({ desired: masqDesired, kernel: masqKernel, owned: new Set() }).operations).toEqual([]);
  });
});
