// The kernel's process events connector (<linux/connector.h>, <linux/cn_proc.h>): a netlink
// message carrying struct cn_msg, whose data is one struct proc_event. Little-endian (x86_64),
// each nlmsghdr followed directly by the 20-byte cn_msg.
import { NLMSG_DONE, NLMSG_ERROR, NLMSG_HDRLEN, NLMSG_NOOP } from './constants.js';
import { decodeMessages, encodeHeader } from './message.js';

export const NETLINK_CONNECTOR = 11;
/** The connector id of process events (cb_id.idx and cb_id.val), also its multicast group. */
export const CN_IDX_PROC = 1;
export const CN_VAL_PROC = 1;

export const PROC_CN_MCAST_LISTEN = 1;
export const PROC_CN_MCAST_IGNORE = 2;

export const PROC_EVENT_NONE = 0;
export const PROC_EVENT_FORK = 0x1;
export const PROC_EVENT_EXEC = 0x2;
export const PROC_EVENT_COMM = 0x200;
export const PROC_EVENT_EXIT = 0x80000000;

/** struct cn_msg: idx, val, seq, ack (u32 each), len, flags (u16 each). */
const CN_MSG_LEN = 20;
/** struct proc_event before its union: what, cpu (u32), timestamp_ns (u64). */
const EVENT_HEADER_LEN = 16;
const TASK_COMM_LEN = 16;

export type ProcEvent =
  | { kind: 'ack'; seq: number; ack: number; error: number }
  | { kind: 'fork'; cpu: number; seq: number; parentPid: number; parentTgid: number; childPid: number; childTgid: number }
  | { kind: 'exec'; cpu: number; seq: number; pid: number; tgid: number }
  | { kind: 'comm'; cpu: number; seq: number; pid: number; tgid: number; comm: string }
  | { kind: 'exit'; cpu: number; seq: number; pid: number; tgid: number; exitCode: number; exitSignal: number };

/** The subscription request: LISTEN starts events to this socket's group, IGNORE stops them. */
export function encodeSubscription(op: typeof PROC_CN_MCAST_LISTEN | typeof PROC_CN_MCAST_IGNORE, seq: number, ack: number): Buffer {
  const length = NLMSG_HDRLEN + CN_MSG_LEN + 4;
  const body = Buffer.alloc(CN_MSG_LEN + 4);
  body.writeUInt32LE(CN_IDX_PROC, 0);
  body.writeUInt32LE(CN_VAL_PROC, 4);
  body.writeUInt32LE(seq >>> 0, 8);
  body.writeUInt32LE(ack >>> 0, 12);
  body.writeUInt16LE(4, 16);
  body.writeUInt32LE(op, CN_MSG_LEN);
  return Buffer.concat([encodeHeader(length, NLMSG_DONE, 0, seq), body]);
}

/**
 * The process events in one datagram. Messages for another connector, and events ipvsd does not
 * use (uid, gid, sid, ptrace, coredump), are skipped; a message too short for its event is an error.
 */
export function decodeProcEvents(datagram: Buffer): ProcEvent[] {
  const out: ProcEvent[] = [];
  for (const message of decodeMessages(datagram)) {
    if (message.type === NLMSG_NOOP || message.type === NLMSG_ERROR) continue;
    const p = message.payload;
    if (p.length < CN_MSG_LEN) throw new ProcEventParseError(`connector message of ${p.length} bytes is shorter than struct cn_msg`);
    if (p.readUInt32LE(0) !== CN_IDX_PROC || p.readUInt32LE(4) !== CN_VAL_PROC) continue;
    const seq = p.readUInt32LE(8);
    const ack = p.readUInt32LE(12);
    const dataLength = p.readUInt16LE(16);
    const data = p.subarray(CN_MSG_LEN, CN_MSG_LEN + dataLength);
    if (data.length < dataLength || dataLength < EVENT_HEADER_LEN) throw new ProcEventParseError(`proc_event of ${data.length} bytes (cn_msg says ${dataLength}) is too short`);
    const what = data.readUInt32LE(0);
    const cpu = data.readUInt32LE(4);
    const need = (bytes: number) => {
      if (data.length < EVENT_HEADER_LEN + bytes) throw new ProcEventParseError(`proc_event 0x${what.toString(16)} needs ${EVENT_HEADER_LEN + bytes} bytes, has ${data.length}`);
    };
    const i32 = (at: number) => data.readInt32LE(EVENT_HEADER_LEN + at);
    if (what === PROC_EVENT_NONE) {
      need(4);
      out.push({ kind: 'ack', seq, ack, error: data.readUInt32LE(EVENT_HEADER_LEN) });
    } else if (what === PROC_EVENT_FORK) {
      need(16);
      out.push({ kind: 'fork', cpu, seq, parentPid: i32(0), parentTgid: i32(4), childPid: i32(8), childTgid: i32(12) });
    } else if (what === PROC_EVENT_EXEC) {
      need(8);
      out.push({ kind: 'exec', cpu, seq, pid: i32(0), tgid: i32(4) });
    } else if (what === PROC_EVENT_COMM) {
      need(8 + TASK_COMM_LEN);
      const raw = data.subarray(EVENT_HEADER_LEN + 8, EVENT_HEADER_LEN + 8 + TASK_COMM_LEN);
      const end = raw.indexOf(0);
      out.push({ kind: 'comm', cpu, seq, pid: i32(0), tgid: i32(4), comm: raw.subarray(0, end < 0 ? raw.length : end).toString('utf8') });
    } else if (what === PROC_EVENT_EXIT) {
      need(16);
      out.push({ kind: 'exit', cpu, seq, pid: i32(0), tgid: i32(4), exitCode: data.readUInt32LE(EVENT_HEADER_LEN + 8), exitSignal: data.readUInt32LE(EVENT_HEADER_LEN + 12) });
    }
  }
  return out;
}

export class ProcEventParseError extends Error {
  readonly code = 'EPROCEVENT';
}
