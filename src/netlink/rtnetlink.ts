// Links and interface addresses over rtnetlink, and their change events. Requests and events use
// separate sockets, so a burst of events that overruns one cannot cost a request its answer.
import { EventEmitter } from 'node:events';
import {
  NETLINK_ROUTE,
  NLM_F_CREATE,
  NLM_F_EXCL,
  RTM_DELADDR,
  RTM_DELLINK,
  RTM_GETADDR,
  RTM_GETLINK,
  RTM_NEWADDR,
  RTM_NEWLINK,
  RTNLGRP_IPV4_IFADDR,
  RTNLGRP_IPV6_IFADDR,
  RTNLGRP_LINK,
} from './constants.js';
import { NetlinkError } from './errors.js';
import type { NetlinkMessage } from './message.js';
import {
  decodeAddress,
  decodeLink,
  deleteAddressPayload,
  getAddressesPayload,
  getLinkPayload,
  newAddressPayload,
  type AddressSpec,
  type InterfaceAddress,
  type Link,
} from './rtnetlink-codec.js';
import { NetlinkSocket } from './socket.js';
import { RTM_DELROUTE, RTM_DELRULE, RTM_NEWROUTE, RTM_NEWRULE } from './route-constants.js';
import { deleteRoutePayload, newRoutePayload, routeAddFlags, type RouteAddMode, type RouteSpec } from './route-message.js';
import { deleteRulePayload, newRulePayload, type RuleSpec } from './rule-message.js';

export type { AddressSpec, InterfaceAddress, Link } from './rtnetlink-codec.js';
export type { NexthopSpec, RouteAddMode, RouteSpec } from './route-message.js';
export type { RuleSpec } from './rule-message.js';

export type RouteEventKind = 'link' | 'ipv4-address' | 'ipv6-address';

export interface AddressEvent {
  action: 'add' | 'remove';
  address: InterfaceAddress;
}

export interface LinkEvent {
  /** 'add' also covers a change (up/down, rename, MTU): the kernel sends RTM_NEWLINK for both. */
  action: 'add' | 'remove';
  link: Link;
}

const groupOf: Record<RouteEventKind, number> = {
  link: RTNLGRP_LINK,
  'ipv4-address': RTNLGRP_IPV4_IFADDR,
  'ipv6-address': RTNLGRP_IPV6_IFADDR,
};

export class RouteNetlink extends EventEmitter {
  private constructor(
    private readonly requests: NetlinkSocket,
    private readonly events: NetlinkSocket | undefined,
  ) {
    super();
    if (events) {
      events.on('notification', (message: NetlinkMessage) => this.onNotification(message));
      // An overrun means events were lost: listeners must re-read links and addresses.
      events.on('error', (error: Error) => {
        if (this.listenerCount('error') > 0) this.emit('error', error);
      });
    }
  }

  /** Events are emitted as 'address' and 'link' for the kinds asked for. */
  static open(options: { events?: readonly RouteEventKind[] } = {}): RouteNetlink {
    const requests = NetlinkSocket.open(NETLINK_ROUTE);
    const kinds = options.events ?? [];
    if (kinds.length === 0) return new RouteNetlink(requests, undefined);
    try {
      const events = NetlinkSocket.open(NETLINK_ROUTE, { groups: kinds.map((k) => groupOf[k]) });
      return new RouteNetlink(requests, events);
    } catch (err) {
      requests.close();
      throw err;
    }
  }

  async links(): Promise<Link[]> {
    const replies = await this.requests.dump({ type: RTM_GETLINK, payload: getLinkPayload() });
    return replies.filter((m) => m.type === RTM_NEWLINK).map((m) => decodeLink(m.payload));
  }

  /** undefined when there is no such link. */
  async link(nameOrIndex: string | number): Promise<Link | undefined> {
    try {
      const replies = await this.requests.request({ type: RTM_GETLINK, payload: getLinkPayload(nameOrIndex) });
      const reply = replies.find((m) => m.type === RTM_NEWLINK);
      return reply ? decodeLink(reply.payload) : undefined;
    } catch (err) {
      if (err instanceof NetlinkError && err.code === 'ENODEV') return undefined;
      throw err;
    }
  }

  async addresses(filter: { ifindex?: number; family?: 'inet' | 'inet6' } = {}): Promise<InterfaceAddress[]> {
    const replies = await this.requests.dump({ type: RTM_GETADDR, payload: getAddressesPayload(filter.family) });
    const out: InterfaceAddress[] = [];
    for (const m of replies) {
      if (m.type !== RTM_NEWADDR) continue;
      const a = decodeAddress(m.payload);
      if (!a) continue;
      if (filter.ifindex !== undefined && a.ifindex !== filter.ifindex) continue;
      if (filter.family !== undefined && a.family !== filter.family) continue;
      out.push(a);
    }
    return out;
  }

  /** NetlinkError 'EEXIST' when the interface already has the address. */
  async addAddress(spec: AddressSpec): Promise<void> {
    await this.requests.request({
      type: RTM_NEWADDR,
      flags: NLM_F_CREATE | NLM_F_EXCL,
      payload: newAddressPayload(spec),
    });
  }

  /** NetlinkError 'EADDRNOTAVAIL' when the interface does not have the address. */
  async removeAddress(spec: { ifindex: number; address: string; prefixLength: number }): Promise<void> {
    await this.requests.request({ type: RTM_DELADDR, payload: deleteAddressPayload(spec) });
  }

  /** 'add' mode: NetlinkError 'EEXIST' when a matching route exists (the others may refuse an exact duplicate too). */
  async addRoute(spec: RouteSpec, mode: RouteAddMode = 'prepend'): Promise<void> {
    await this.requests.request({ type: RTM_NEWROUTE, flags: routeAddFlags(mode), payload: newRoutePayload(spec) });
  }

  /** NetlinkError 'ESRCH' when there is no such route. */
  async removeRoute(spec: RouteSpec): Promise<void> {
    await this.requests.request({ type: RTM_DELROUTE, payload: deleteRoutePayload(spec) });
  }

  /** NetlinkError 'EEXIST' when an identical rule exists. */
  async addRule(spec: RuleSpec): Promise<void> {
    await this.requests.request({ type: RTM_NEWRULE, flags: NLM_F_CREATE | NLM_F_EXCL, payload: newRulePayload(spec) });
  }

  /** NetlinkError 'ENOENT' when there is no such rule. */
  async removeRule(spec: RuleSpec): Promise<void> {
    await this.requests.request({ type: RTM_DELRULE, payload: deleteRulePayload(spec) });
  }

  close(): void {
    this.requests.close();
    this.events?.close();
  }

  private onNotification(message: NetlinkMessage): void {
    switch (message.type) {
      case RTM_NEWADDR:
      case RTM_DELADDR: {
        const address = decodeAddress(message.payload);
        if (address) this.emit('address', { action: message.type === RTM_NEWADDR ? 'add' : 'remove', address });
        break;
      }
      case RTM_NEWLINK:
      case RTM_DELLINK:
        this.emit('link', { action: message.type === RTM_NEWLINK ? 'add' : 'remove', link: decodeLink(message.payload) });
        break;
    }
  }
}
