// The proc connector's messages against the byte layouts of <linux/connector.h> and
// <linux/cn_proc.h>; the event datagrams were captured from a 6.18 kernel (a shell that renamed
// itself to "tp-renamed" through /proc/self/comm and exited with status 3).
import { describe, expect, it } from 'vitest';
import {
  decodeProcEvents, encodeSubscription, PROC_CN_MCAST_IGNORE, PROC_CN_MCAST_LISTEN, ProcEventParseError,
} from '../../src/netlink/proc-connector.js';

const captured = {
  fork: '4c000000030000006701000000000000010000000100000067010000000000002800000001000000000000001f08cbafc90a00004a6800004a68000061680000616800000000000000000000',
  exec: '4c000000030000006801000000000000010000000100000068010000000000002800000002000000000000001700d6afc90a0000616800006168000000000000000000000000000000000000',
  comm: '4c000000030000006901000000000000010000000100000069010000000000002800000000020000000000002d75f6afc90a0000616800006168000074702d72656e616d65640a0000000000',
  exit: '4c000000030000006a0100000000000001000000010000006a01000000000000280000000000008000000000e47ef8afc90a0000616800006168000000030000110000004a6800004a680000',
};
const bytes = (hex: string) => Buffer.from(hex, 'hex');

describe('encodeSubscription', () => {
  it('is nlmsghdr (NLMSG_DONE) + cn_msg {idx 1, val 1, seq, ack, len 4} + the operation', () => {
    expect(encodeSubscription(PROC_CN_MCAST_LISTEN, 7, 0x01020304).toString('hex')).toBe(
      '28000000' + '0300' + '0000' + '07000000' + '00000000' + // nlmsghdr: 40 bytes, NLMSG_DONE
        '01000000' + '01000000' + '07000000' + '04030201' + '0400' + '0000' + // cn_msg
        '01000000', // PROC_CN_MCAST_LISTEN
    );
    expect(encodeSubscription(PROC_CN_MCAST_IGNORE, 0, 0).subarray(36).readUInt32LE(0)).toBe(2);
  });
});

describe('decodeProcEvents', () => {
  it('reads a fork: parent and child, pid and tgid', () => {
    expect(decodeProcEvents(bytes(captured.fork))).toEqual([
      { kind: 'fork', cpu: 0, seq: 0x167, parentPid: 26698, parentTgid: 26698, childPid: 26721, childTgid: 26721 },
    ]);
  });

  it('reads an exec, a rename (comm as the kernel stored it) and an exit with its status', () => {
    expect(decodeProcEvents(bytes(captured.exec))).toEqual([{ kind: 'exec', cpu: 0, seq: 0x168, pid: 26721, tgid: 26721 }]);
    expect(decodeProcEvents(bytes(captured.comm))).toEqual([{ kind: 'comm', cpu: 0, seq: 0x169, pid: 26721, tgid: 26721, comm: 'tp-renamed\n' }]);
    expect(decodeProcEvents(bytes(captured.exit))).toEqual([
      { kind: 'exit', cpu: 0, seq: 0x16a, pid: 26721, tgid: 26721, exitCode: 3 << 8, exitSignal: 17 },
    ]);
  });

  it('reads several messages in one datagram', () => {
    const both = Buffer.concat([bytes(captured.exec), bytes(captured.exit)]);
    expect(decodeProcEvents(both).map((e) => e.kind)).toEqual(['exec', 'exit']);
  });

  it('reads the acknowledgement of a subscription (PROC_EVENT_NONE) with its error', () => {
    const ack = bytes(captured.exec);
    ack.writeUInt32LE(78, 28); // cn_msg.ack: the request's ack + 1
    ack.writeUInt32LE(0, 36); // what = PROC_EVENT_NONE
    ack.writeUInt32LE(1, 52); // err = EPERM
    expect(decodeProcEvents(ack)).toEqual([{ kind: 'ack', seq: 0x168, ack: 78, error: 1 }]);
  });

  it('skips other connectors and events it does not use (uid change)', () => {
    const other = bytes(captured.exec);
    other.writeUInt32LE(2, 16); // cb_id.idx
    const uid = bytes(captured.exec);
    uid.writeUInt32LE(0x4, 36); // PROC_EVENT_UID
    expect(decodeProcEvents(Buffer.concat([other, uid]))).toEqual([]);
  });

  it('throws a coded error for a message shorter than its event', () => {
    const short = bytes(captured.exit).subarray(0, 60);
    short.writeUInt32LE(60, 0);
    short.writeUInt16LE(24, 32);
    expect(() => decodeProcEvents(short)).toThrow(ProcEventParseError);
    expect(() => decodeProcEvents(short)).toThrow(expect.objectContaining({ code: 'EPROCEVENT' }));
  });
});
