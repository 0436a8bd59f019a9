// The ipvs-netlink client: typed objects in, typed objects out, one generic netlink socket.
import { NETLINK_GENERIC } from '../netlink/constants.js';
import { NetlinkError } from '../netlink/errors.js';
import { genlHeader, resolveFamily, type GenlFamily } from '../netlink/genl.js';
import { NetlinkSocket, type NetlinkMessage, type NetlinkRequest } from '../netlink/socket.js';
import {
  daemonAttr,
  daemonStateAttr,
  decodeDaemon,
  decodeDestination,
  decodeInfo,
  decodeService,
  decodeTimeouts,
  destinationAttr,
  destinationIdentityAttr,
  serviceAttr,
  serviceIdentityAttr,
  timeoutAttrs,
} from './codec.js';
import { Command, IPVS_GENL_NAME, IPVS_GENL_VERSION } from './constants.js';
import { IpvsError, IpvsPermissionError, IpvsUnavailableError } from './errors.js';
import { operationRule } from './ipvsadm-rules.js';
import {
  serviceKey,
  type Destination,
  type DestinationState,
  type IpvsInfo,
  type Service,
  type ServiceEntry,
  type ServiceState,
  type SyncDaemon,
  type Timeouts,
} from './model.js';
import type { IpvsOperation } from './operations.js';

const GENL_HEADER_SIZE = 4;

export interface ApplyOptions {
  /** 'last' acknowledges only the last message of each send (fastest); 'each' acknowledges every one. */
  ack?: 'each' | 'last';
  /** Messages per sendmsg (default 1024). */
  perSend?: number;
}

export interface ApplyFailure {
  operation: IpvsOperation;
  error: IpvsError;
}

/** A table read from the kernel. A service whose destinations could not be read has `destinations: undefined`. */
export interface ObservedEntry {
  service: ServiceState;
  destinations: DestinationState[] | undefined;
}

const commandOf: Record<IpvsOperation['kind'], number> = {
  'add-service': Command.NEW_SERVICE,
  'update-service': Command.SET_SERVICE,
  'remove-service': Command.DEL_SERVICE,
  'add-destination': Command.NEW_DEST,
  'update-destination': Command.SET_DEST,
  'remove-destination': Command.DEL_DEST,
};

function operationAttrs(op: IpvsOperation): Buffer[] {
  switch (op.kind) {
    case 'add-service':
    case 'update-service':
      return [serviceAttr(op.service)];
    case 'remove-service':
      return [serviceIdentityAttr(op.service)];
    case 'add-destination':
    case 'update-destination':
      return [serviceIdentityAttr(op.service), destinationAttr(op.destination)];
    case 'remove-destination':
      return [serviceIdentityAttr(op.service), destinationIdentityAttr(op.destination)];
  }
}

function genlPayload(message: NetlinkMessage): Buffer {
  return message.payload.subarray(GENL_HEADER_SIZE);
}

export class IpvsClient {
  private constructor(
    private readonly socket: NetlinkSocket,
    private readonly family: GenlFamily,
  ) {}

  /** Opens a socket and finds the kernel's IPVS family; IpvsUnavailableError when there is none. */
  static async open(): Promise<IpvsClient> {
    const socket = NetlinkSocket.open(NETLINK_GENERIC, { receiveBufferSize: 8 * 1024 * 1024 });
    try {
      const family = await resolveFamily(socket, IPVS_GENL_NAME);
      return new IpvsClient(socket, family);
    } catch (err) {
      socket.close();
      if (err instanceof NetlinkError && err.code === 'ENOENT') {
        throw new IpvsUnavailableError('the kernel has no IPVS generic netlink family (module ip_vs not loaded)');
      }
      throw err;
    }
  }

  close(): void {
    this.socket.close();
  }

  private readonly headers = new Map<number, Buffer>();

  private request(command: number, attrs: readonly Buffer[] = []): NetlinkRequest {
    let header = this.headers.get(command);
    if (!header) this.headers.set(command, (header = genlHeader(command, IPVS_GENL_VERSION)));
    return { type: this.family.id, payload: [header, ...attrs] };
  }

  private async run(what: string, command: number, attrs?: readonly Buffer[]): Promise<NetlinkMessage[]> {
    try {
      return await this.socket.request(this.request(command, attrs));
    } catch (err) {
      throw toIpvsError(what, err);
    }
  }

  private async dump(what: string, command: number, attrs?: readonly Buffer[]): Promise<NetlinkMessage[]> {
    try {
      return await this.socket.dump(this.request(command, attrs));
    } catch (err) {
      throw toIpvsError(what, err);
    }
  }

  async info(): Promise<IpvsInfo> {
    const [reply] = await this.run('read IPVS info', Command.GET_INFO);
    if (!reply) throw new Error('read IPVS info: the kernel sent no reply');
    return decodeInfo(genlPayload(reply));
  }

  async services(): Promise<ServiceState[]> {
    const replies = await this.dump('list services', Command.GET_SERVICE);
    return replies.map((m) => decodeService(genlPayload(m)));
  }

  /** One service by its identity; undefined when the kernel has no such service. */
  async service(s: Service): Promise<ServiceState | undefined> {
    try {
      const [reply] = await this.socket.request(this.request(Command.GET_SERVICE, [serviceIdentityAttr(s)]));
      return reply ? decodeService(genlPayload(reply)) : undefined;
    } catch (err) {
      if (err instanceof NetlinkError && (err.code === 'ESRCH' || err.code === 'ENOENT')) return undefined;
      throw toIpvsError(`read service ${serviceKey(s)}`, err);
    }
  }

  async destinations(s: Service): Promise<DestinationState[]> {
    const replies = await this.dump(`list destinations of ${serviceKey(s)}`, Command.GET_DEST, [
      serviceIdentityAttr(s),
    ]);
    return replies.map((m) => decodeDestination(genlPayload(m), s.family));
  }

  /**
   * The whole table. Throws if the service list cannot be read completely (the caller must treat
   * the kernel as unknown, never as empty); a service whose destinations cannot be read is kept
   * with `destinations: undefined`.
   */
  async table(): Promise<ObservedEntry[]> {
    const services = await this.services();
    const entries: ObservedEntry[] = [];
    // The kernel runs one dump per socket at a time, so these go one after another.
    for (const service of services) {
      let destinations: DestinationState[] | undefined;
      try {
        destinations = await this.destinations(service);
      } catch {
        destinations = undefined;
      }
      entries.push({ service, destinations });
    }
    return entries;
  }

  async addService(s: Service): Promise<void> {
    await this.apply1({ kind: 'add-service', service: s });
  }

  async updateService(s: Service): Promise<void> {
    await this.apply1({ kind: 'update-service', service: s });
  }

  async removeService(s: Service): Promise<void> {
    await this.apply1({ kind: 'remove-service', service: s });
  }

  async addDestination(s: Service, d: Destination): Promise<void> {
    await this.apply1({ kind: 'add-destination', service: s, destination: d });
  }

  async updateDestination(s: Service, d: Destination): Promise<void> {
    await this.apply1({ kind: 'update-destination', service: s, destination: d });
  }

  async removeDestination(s: Service, d: Destination): Promise<void> {
    await this.apply1({ kind: 'remove-destination', service: s, destination: d });
  }

  private async apply1(op: IpvsOperation): Promise<void> {
    await this.run(describe(op), commandOf[op.kind], operationAttrs(op));
  }

  /**
   * Many operations, many per sendmsg, in order. Never stops at the first refusal: each
   * failure is reported with the operation that caused it.
   */
  async apply(operations: readonly IpvsOperation[], options: ApplyOptions = {}): Promise<ApplyFailure[]> {
    const requests = operations.map((op) => this.request(commandOf[op.kind], operationAttrs(op)));
    // 1024 per send is the iovec limit; the socket lowers it if its receive buffer is small.
    const result = await this.socket.batch(requests, { ack: options.ack ?? 'last', perSend: options.perSend ?? 1024 });
    return result.errors.map(({ index, error }) => {
      const operation = operations[index]!;
      return { operation, error: new IpvsError(describe(operation), error) };
    });
  }

  /** Removes every service, foreign ones included (keepalived's lvs_flush). */
  async flush(): Promise<void> {
    await this.run('flush the IPVS table', Command.FLUSH);
  }

  /** Zeroes the counters of one service, or of all. */
  async zero(s?: Service): Promise<void> {
    await this.run('zero counters', Command.ZERO, s ? [serviceIdentityAttr(s)] : []);
  }

  async timeouts(): Promise<Timeouts> {
    const [reply] = await this.run('read timeouts', Command.GET_CONFIG);
    if (!reply) throw new Error('read timeouts: the kernel sent no reply');
    return decodeTimeouts(genlPayload(reply));
  }

  /** A zero field leaves that timeout unchanged. */
  async setTimeouts(t: Timeouts): Promise<void> {
    await this.run('set timeouts', Command.SET_CONFIG, timeoutAttrs(t));
  }

  async syncDaemons(): Promise<SyncDaemon[]> {
    const replies = await this.dump('list sync daemons', Command.GET_DAEMON);
    return replies.map((m) => decodeDaemon(genlPayload(m)));
  }

  async startSyncDaemon(d: SyncDaemon): Promise<void> {
    await this.run(`start the ${d.state} sync daemon on ${d.interface}`, Command.NEW_DAEMON, [daemonAttr(d)]);
  }

  async stopSyncDaemon(state: SyncDaemon['state']): Promise<void> {
    await this.run(`stop the ${state} sync daemon`, Command.DEL_DAEMON, [daemonStateAttr(state)]);
  }
}

export function describe(op: IpvsOperation): string {
  return `ipvsadm ${operationRule(op)}`;
}

function toIpvsError(what: string, err: unknown): Error {
  if (!(err instanceof NetlinkError)) return err instanceof Error ? err : new Error(String(err));
  if (err.code === 'EPERM') return new IpvsPermissionError();
  return new IpvsError(what, err);
}

/** Convenience for callers holding a desired table: the entries keyed as the kernel identifies them. */
export function keyed<E extends ServiceEntry>(entries: readonly E[]): Map<string, E> {
  return new Map(entries.map((e) => [serviceKey(e.service), e]));
}
