// Route and policy-rule deletions as the kernel announces them (RTM_DELROUTE, RTM_DELRULE), decoded
// only as far as telling which configured line went: family, destination, table, protocol, preference.
import { EventEmitter } from 'node:events';
import { formatAddress } from './address.js';
import { parseAttributes, readU32, readU8 } from './attributes.js';
import { NETLINK_ROUTE } from './constants.js';
import type { NetlinkMessage } from './message.js';
import { FRA_PRIORITY, FRA_PROTOCOL, FRA_TABLE, RTA_DST, RTA_TABLE, RTM_DELROUTE, RTM_DELRULE } from './route-constants.js';
import { NetlinkSocket } from './socket.js';

const AF_INET = 2;
const AF_INET6 = 10;
const RTMSG_LENGTH = 12;
const FIB_RULE_HDR_LENGTH = 12;
const RTNLGRP_IPV4_ROUTE = 7;
const RTNLGRP_IPV4_RULE = 8;
const RTNLGRP_IPV6_ROUTE = 11;
const RTNLGRP_IPV6_RULE = 19;

export interface RouteRemoval {
  family: 'inet' | 'inet6';
  /** The destination network; the zero address for a default route. */
  destination: string;
  prefixLength: number;
  table: number;
  protocol: number;
}

export interface RuleRemoval {
  family: 'inet' | 'inet6';
  preference: number;
  table: number;
  /** 0 when the kernel does not say (before Linux 4.17). */
  protocol: number;
}

function familyOf(code: number | undefined): 'inet' | 'inet6' | undefined {
  return code === AF_INET ? 'inet' : code === AF_INET6 ? 'inet6' : undefined;
}

/** An RTM_DELROUTE payload (struct rtmsg and attributes); undefined for other families or a short message. */
export function decodeRouteRemoval(payload: Buffer): RouteRemoval | undefined {
  const family = familyOf(payload[0]);
  if (!family || payload.length < RTMSG_LENGTH) return undefined;
  const attrs = parseAttributes(payload, RTMSG_LENGTH);
  const dst = attrs.get(RTA_DST);
  const table = attrs.get(RTA_TABLE);
  return {
    family,
    destination: dst ? formatAddress(Buffer.from(dst)) : family === 'inet' ? '0.0.0.0' : '::',
    prefixLength: payload.readUInt8(1),
    table: table ? readU32(table) : payload.readUInt8(4),
    protocol: payload.readUInt8(5),
  };
}

/** An RTM_DELRULE payload (struct fib_rule_hdr and attributes). */
export function decodeRuleRemoval(payload: Buffer): RuleRemoval | undefined {
  const family = familyOf(payload[0]);
  if (!family || payload.length < FIB_RULE_HDR_LENGTH) return undefined;
  const attrs = parseAttributes(payload, FIB_RULE_HDR_LENGTH);
  const preference = attrs.get(FRA_PRIORITY);
  const table = attrs.get(FRA_TABLE);
  const protocol = attrs.get(FRA_PROTOCOL);
  return {
    family,
    preference: preference ? readU32(preference) : 0,
    table: table ? readU32(table) : payload.readUInt8(4),
    protocol: protocol ? readU8(protocol) : 0,
  };
}

/** Emits 'route' (RouteRemoval), 'rule' (RuleRemoval) and 'error' (events were lost). */
export class RouteRemovals extends EventEmitter {
  private constructor(private readonly socket: NetlinkSocket) {
    super();
    socket.on('notification', (message: NetlinkMessage) => this.onNotification(message));
    socket.on('error', (error: Error) => {
      if (this.listenerCount('error') > 0) this.emit('error', error);
    });
  }

  static open(): RouteRemovals {
    return new RouteRemovals(NetlinkSocket.open(NETLINK_ROUTE, { groups: [RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV6_ROUTE, RTNLGRP_IPV4_RULE, RTNLGRP_IPV6_RULE] }));
  }

  close(): void {
    this.socket.close();
  }

  private onNotification(message: NetlinkMessage): void {
    // Route additions can be many (a full BGP table); only deletions are looked at.
    if (message.type === RTM_DELROUTE) {
      const removal = decodeRouteRemoval(message.payload);
      if (removal) this.emit('route', removal);
    } else if (message.type === RTM_DELRULE) {
      const removal = decodeRuleRemoval(message.payload);
      if (removal) this.emit('rule', removal);
    }
  }
}
