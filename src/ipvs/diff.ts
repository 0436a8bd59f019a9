// The reconciler's decision, pure: desired table vs what the kernel holds -> ordered operations.
import {
  destinationKey,
  destinationSettingsEqual,
  serviceSettingsEqual,
  type Destination,
  type Service,
  type ServiceEntry,
} from './model.js';
import type { IpvsOperation } from './operations.js';

/**
 * What the kernel holds for one service, destinations keyed by `destinationKey`;
 * `destinations: undefined` means "could not be read".
 */
export interface KernelEntry {
  service: Service;
  destinations: ReadonlyMap<string, Destination> | undefined;
}

export interface DiffInput {
  desired: ReadonlyMap<string, ServiceEntry>;
  kernel: ReadonlyMap<string, KernelEntry>;
  /** Services ipvsd created or adopted: the only ones it may remove. */
  owned: ReadonlySet<string>;
  /** Restrict the diff to these service keys (a change known to touch only them). */
  scope?: Iterable<string>;
}

export interface Diff {
  operations: IpvsOperation[];
  /** Services left alone because their destinations could not be read. */
  unknown: string[];
}

/**
 * Minimal operations, ordered so that capacity is added before it is taken away: new services,
 * edited services, new and edited destinations, then removed destinations, then removed services.
 * A service is never deleted to change it; a foreign service is never touched.
 */
export function diffTables({ desired, kernel, owned, scope }: DiffInput): Diff {
  const keys = scope ? new Set(scope) : new Set([...desired.keys(), ...owned]);
  const addServices: IpvsOperation[] = [];
  const editServices: IpvsOperation[] = [];
  const addOrEditDestinations: IpvsOperation[] = [];
  const removeDestinations: IpvsOperation[] = [];
  const removeServices: IpvsOperation[] = [];
  const unknown: string[] = [];

  for (const key of keys) {
    const want = desired.get(key);
    const have = kernel.get(key);
    if (!want) {
      if (have && owned.has(key)) removeServices.push({ kind: 'remove-service', service: have.service });
      continue;
    }
    const service = want.service;
    if (!have) {
      addServices.push({ kind: 'add-service', service });
      for (const destination of want.destinations) {
        addOrEditDestinations.push({ kind: 'add-destination', service, destination });
      }
      continue;
    }
    if (!serviceSettingsEqual(service, have.service)) editServices.push({ kind: 'update-service', service });
    if (!have.destinations) {
      unknown.push(key);
      continue;
    }
    const wanted = new Set<string>();
    for (const destination of want.destinations) {
      const key = destinationKey(destination);
      wanted.add(key);
      const current = have.destinations.get(key);
      if (!current) addOrEditDestinations.push({ kind: 'add-destination', service, destination });
      else if (!destinationSettingsEqual(destination, current)) {
        addOrEditDestinations.push({ kind: 'update-destination', service, destination });
      }
    }
    for (const [key, destination] of have.destinations) {
      if (!wanted.has(key)) removeDestinations.push({ kind: 'remove-destination', service, destination });
    }
  }

  return {
    operations: [
      ...addServices,
      ...editServices,
      ...addOrEditDestinations,
      ...removeDestinations,
      ...removeServices,
    ],
    unknown,
  };
}
