// Generic netlink: the 4-byte genlmsghdr and family lookup through the "nlctrl" controller.
import { parseAttributeList, parseAttributes, readString, readU16, readU32, stringAttr } from './attributes.js';
import {
  CTRL_ATTR_FAMILY_ID,
  CTRL_ATTR_FAMILY_NAME,
  CTRL_ATTR_HDRSIZE,
  CTRL_ATTR_MAXATTR,
  CTRL_ATTR_MCAST_GROUPS,
  CTRL_ATTR_MCAST_GRP_ID,
  CTRL_ATTR_MCAST_GRP_NAME,
  CTRL_ATTR_VERSION,
  CTRL_CMD_GETFAMILY,
  CTRL_VERSION,
  GENL_HDRLEN,
  GENL_ID_CTRL,
} from './constants.js';
import { NetlinkParseError } from './errors.js';
import type { NetlinkMessage } from './message.js';
import type { NetlinkRequest, NetlinkSocket } from './socket.js';

export interface GenlFamily {
  id: number;
  version: number;
  headerSize: number;
  maxAttribute: number;
  multicastGroups: Map<string, number>;
}

export function genlHeader(command: number, version: number): Buffer {
  const out = Buffer.alloc(GENL_HDRLEN);
  out.writeUInt8(command, 0);
  out.writeUInt8(version, 1);
  return out;
}

export function getFamilyRequest(name: string): NetlinkRequest {
  return {
    type: GENL_ID_CTRL,
    payload: [genlHeader(CTRL_CMD_GETFAMILY, CTRL_VERSION), stringAttr(CTRL_ATTR_FAMILY_NAME, name)],
  };
}

function decodeFamily(reply: NetlinkMessage): GenlFamily {
  const a = parseAttributes(reply.payload, GENL_HDRLEN);
  const id = a.get(CTRL_ATTR_FAMILY_ID);
  if (!id) throw new NetlinkParseError('the controller answered without a family id');
  const multicastGroups = new Map<string, number>();
  const groups = a.get(CTRL_ATTR_MCAST_GROUPS);
  if (groups) {
    for (const { value } of parseAttributeList(groups)) {
      const g = parseAttributes(value);
      const name = g.get(CTRL_ATTR_MCAST_GRP_NAME);
      const groupId = g.get(CTRL_ATTR_MCAST_GRP_ID);
      if (name && groupId) multicastGroups.set(readString(name), readU32(groupId));
    }
  }
  const optional = (type: number): number => {
    const v = a.get(type);
    return v ? readU32(v) : 0;
  };
  return {
    id: readU16(id),
    version: optional(CTRL_ATTR_VERSION),
    headerSize: optional(CTRL_ATTR_HDRSIZE),
    maxAttribute: optional(CTRL_ATTR_MAXATTR),
    multicastGroups,
  };
}

function firstReply(replies: NetlinkMessage[], name: string): NetlinkMessage {
  const reply = replies[0];
  if (!reply) throw new NetlinkParseError(`the controller acknowledged the lookup of "${name}" without describing it`);
  return reply;
}

/** NetlinkError with code 'ENOENT' when the kernel has no such family (module not loaded). */
export async function resolveFamily(socket: NetlinkSocket, name: string): Promise<GenlFamily> {
  return decodeFamily(firstReply(await socket.request(getFamilyRequest(name)), name));
}

export function resolveFamilySync(socket: NetlinkSocket, name: string): GenlFamily {
  return decodeFamily(firstReply(socket.requestSync(getFamilyRequest(name)), name));
}
