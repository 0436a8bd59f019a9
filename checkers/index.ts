// One entry point: the probe for a checker of any type.
import { readFileSync } from 'node:fs';
import type { Checker, Endpoint, HttpCheck } from '../src/config/model.js';
import { dnsProbe } from './dns.js';
import { fileProbe } from './file.js';
import { httpProbe, type HttpProbeOptions } from './http.js';
import { miscProbe } from './misc.js';
import { pingProbe } from './ping.js';
import type { Probe } from './probe.js';
import { smtpProbe } from './smtp.js';
import { tcpProbe } from './tcp.js';
import { tcpSynProbe } from './tcp-syn.js';
import { udpProbe } from './udp.js';

export type { Probe, ProbeResult } from './probe.js';
export { unappliedSettings } from './connection.js';
export type { FileProbe } from './file.js';
export type { ClientCertificate, HttpProbeOptions } from './http.js';
export type { ExpectedHeader } from './http-criteria.js';

export interface ProbeOptions {
  http?: HttpProbeOptions;
  /**
   * TCP_CHECK as a half-open SYN probe over one shared raw socket (needs CAP_NET_RAW): same verdicts
   * as a connect, a fraction of the syscalls, so thousands of servers can be checked every second.
   */
  tcpHalfOpen?: boolean;
  /** FILE_CHECK names a track_file block; this gives its path (the model's `trackFiles`). */
  trackFilePath?: (name: string) => string | undefined;
}

export class ProbeSetupError extends Error {
  readonly code = 'ERR_PROBE_SETUP';
  override readonly name = 'ProbeSetupError';
}

/**
 * The probe for `checker` on `server`. Connection checkers already carry their target (connect_ip
 * defaults to the server's address). `server.weight`, when given (pass the RealServer), is the
 * configured weight misc_dynamic results are relative to; keepalived's default 1 otherwise.
 */
export function createProbe(checker: Checker, server: Endpoint & { weight?: number }, options: ProbeOptions = {}): Probe {
  switch (checker.type) {
    case 'TCP_CHECK':
      return options.tcpHalfOpen ? tcpSynProbe(checker) : tcpProbe(checker);
    case 'HTTP_GET':
    case 'SSL_GET':
      return httpProbe(checker, { ...httpOptions(checker), ...options.http });
    case 'PING_CHECK':
      return pingProbe(checker);
    case 'UDP_CHECK':
      return udpProbe(checker);
    case 'DNS_CHECK':
      return dnsProbe(checker);
    case 'SMTP_CHECK':
      return smtpProbe(checker);
    case 'MISC_CHECK':
      return miscProbe(checker, server.weight ?? 1);
    case 'FILE_CHECK': {
      const path = options.trackFilePath?.(checker.trackFile);
      if (path === undefined) throw new ProbeSetupError(`FILE_CHECK: no path known for track_file ${checker.trackFile}`);
      return fileProbe(checker, path);
    }
  }
}

/** The probe options an HTTP checker's ipvsd keywords and SSL block ask for; files are read now, at (re)load. */
function httpOptions(checker: HttpCheck): HttpProbeOptions {
  const headers: Record<string, string> = {};
  for (const { name, value } of checker.requestHeaders ?? []) {
    // A repeated header is one field with its values joined, as HTTP allows.
    const key = name.toLowerCase();
    headers[key] = headers[key] === undefined ? value : `${headers[key]}, ${value}`;
  }
  const options: HttpProbeOptions = {
    headers,
    expectHeaders: checker.expectHeaders ?? [],
    verifyCertificate: checker.verifyCertificate ?? false,
  };
  if (checker.method !== undefined) options.method = checker.method;
  const ssl = checker.sslClient;
  // The SSL block's ca is always in the store (it completes the client chain); ca_file adds to it under verify_certificate.
  const cas: string[] = [];
  if (checker.verifyCertificate && checker.caFile !== undefined) cas.push(readPem(checker, 'ca_file', checker.caFile));
  if (ssl?.caFile !== undefined) cas.push(readPem(checker, 'SSL ca', ssl.caFile));
  if (cas.length > 0) options.ca = cas.join('\n');
  if (ssl?.certificateFile !== undefined && ssl.keyFile !== undefined) {
    options.clientCertificate = {
      cert: readPem(checker, 'SSL certificate', ssl.certificateFile),
      key: readPem(checker, 'SSL key', ssl.keyFile),
      ...(ssl.password !== undefined && { passphrase: ssl.password }),
    };
  }
  return options;
}

function readPem(checker: HttpCheck, what: string, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new ProbeSetupError(`${checker.type}: cannot read ${what} ${path}: ${(err as Error).message}`);
  }
}
