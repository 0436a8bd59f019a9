// The verbs the reconciler emits and the client executes.
import type { Destination, Service } from './model.js';

export type IpvsOperation =
  | { kind: 'add-service'; service: Service }
  | { kind: 'update-service'; service: Service }
  | { kind: 'remove-service'; service: Service }
  | { kind: 'add-destination'; service: Service; destination: Destination }
  | { kind: 'update-destination'; service: Service; destination: Destination }
  | { kind: 'remove-destination'; service: Service; destination: Destination };
