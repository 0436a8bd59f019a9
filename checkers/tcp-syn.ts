// TCP_CHECK, half-open: a SYN over the shared raw socket; up on the SYN-ACK within connect_timeout,
// as a completed handshake would be. The server never accepts a connection: our kernel answers
// its SYN-ACK with a RST. Needs CAP_NET_RAW; same key and wording as the connect probe, so
// either can serve. Results are built here rather than with Attempt because Attempt reads the
// clock per run, and the prober already times each SYN from its batch's send to its reply.
import type { TcpCheck } from '../src/config/model.js';
import { connectionKey, describeTarget } from './connection.js';
import { describeUnreachable } from './icmp.js';
import { describeError, probeKey, type Probe, type ProbeResult } from './probe.js';
import { acquireSynProber, releaseSynProber, type SynOutcome, type SynSource } from './syn-prober.js';

export function tcpSynProbe(spec: TcpCheck): Probe {
  const family = spec.connectIp.family;
  const source: SynSource = { family, bindTo: spec.bindTo?.address, bindInterface: spec.bindInterface, fwmark: spec.fwmark };
  const label = `TCP connect to ${describeTarget(spec)}`;
  const upReason = `${label}: SYN-ACK received (half-open)`;
  const refusedReason = `${label}: connection refused`;
  const prober = acquireSynProber(source);
  const target = prober.target(spec.connectIp.address, spec.connectPort, spec.bindPort);
  let closed = false;

  const result = (outcome: SynOutcome, elapsedMs: number): ProbeResult => {
    switch (outcome.kind) {
      case 'open':
        return { ok: true, reason: upReason, durationMs: elapsedMs };
      case 'refused':
        return { ok: false, reason: refusedReason, durationMs: elapsedMs, hard: true };
      case 'unreachable':
        return { ok: false, reason: `${label}: ${describeUnreachable(family, outcome.code)}`, durationMs: elapsedMs, hard: true };
      case 'timeout':
        return { ok: false, reason: `${label}: no handshake within ${Math.round(outcome.windowMs)} ms`, durationMs: elapsedMs };
      case 'late':
        return { ok: false, reason: `${label}: deadline passed before the SYN was sent`, durationMs: 0 };
      case 'error': {
        const { detail, hard } = describeError(outcome.error);
        const failed: ProbeResult = { ok: false, reason: `${label}: ${detail}`, durationMs: elapsedMs };
        if (hard) failed.hard = true;
        return failed;
      }
    }
  };

  return {
    key: probeKey('TCP_CHECK', connectionKey(spec)),
    describe: () => label,
    run(deadline: number): Promise<ProbeResult> {
      if (closed) return Promise.resolve({ ok: false, reason: `${label}: probe is closed`, durationMs: 0 });
      return new Promise((resolve) => prober.syn(target, deadline, spec.connectTimeoutMs, (outcome, elapsedMs) => resolve(result(outcome, elapsedMs))));
    },
    close(): void {
      if (closed) return;
      closed = true;
      releaseSynProber(source, prober);
    },
  };
}
