// HTTP_GET and SSL_GET over undici: every url block in order, each checked for status, digest,
// regex and (beyond keepalived) an expected header.
//
// Differences from keepalived, all deliberate or forced by undici:
// - undici always writes an `HTTP/1.1` request line; `http_protocol` 1.0 and 1.0C both send
//   `Connection: close`, as 1.1 does. A server may therefore answer chunked where keepalived's
//   1.0 request got a plain body; undici decodes chunks, so the digest is over the decoded body.
// - All urls are checked in one run (keepalived checks one url per delay_loop).
// - The regex sees the first 64 KiB of the body (keepalived: 4 KiB) unless offsets say otherwise.
import { createHash } from 'node:crypto';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import tls, { type ConnectionOptions } from 'node:tls';
import type { Dispatcher } from 'undici';
import type { HttpCheck, HttpUrl } from '../src/config/model.js';
import { connectionKey, socketTarget } from './connection.js';
import { StepTimer, connector } from './http-connector.js';
import {
  BodyDigest,
  REGEX_WINDOW,
  compilePcre,
  describeStatusRanges,
  headerMismatch,
  regexMatches,
  statusAccepted,
  type ExpectedHeader,
} from './http-criteria.js';
import { Attempt, describeError, hostPort, probeKey, stepTimeout, type Probe, type ProbeResult } from './probe.js';

/** Settings beyond keepalived's keywords (`createProbe` fills them from the checker's ipvsd keywords). */
export interface HttpProbeOptions {
  /** Verify the server certificate and its name (SSL_GET). Off by default, as keepalived never verifies. */
  verifyCertificate?: boolean;
  /** PEM CA certificates: the trust store instead of the system one, and where the client chain is completed. */
  ca?: string | Buffer;
  /** The client certificate presented to a server that asks for one (keepalived's SSL block). */
  clientCertificate?: ClientCertificate;
  /** Request method; GET by default. */
  method?: string;
  /** Extra request headers; they cannot replace Host or User-Agent. */
  headers?: Readonly<Record<string, string>>;
  /** Response headers every url's answer must carry. */
  expectHeaders?: readonly ExpectedHeader[];
}

export interface ClientCertificate {
  /** PEM certificate, optionally followed by its chain. */
  cert: string;
  /** PEM private key. */
  key: string;
  /** Decrypts the key. */
  passphrase?: string;
}

const USER_AGENT = 'KeepAliveClient';

class DeadlineError extends Error {
  readonly code = 'ERR_CHECK_DEADLINE';
  override readonly name = 'DeadlineError';
}

interface PreparedUrl {
  url: HttpUrl;
  host: string;
  servername: string | undefined;
  regex: RegExp | undefined;
}

interface Failure {
  detail: string;
  hard: boolean;
}

// undici is most of ipvsd's start-up time in a slow guest and only HTTP checks need it: it is
// loaded when the first HTTP probe is made, well before that probe first runs.
let undiciModule: Promise<typeof import('undici')> | undefined;

export function httpProbe(spec: HttpCheck, options: HttpProbeOptions = {}): Probe {
  const undici = (undiciModule ??= import('undici'));
  const secure = spec.type === 'SSL_GET';
  const scheme = secure ? 'https' : 'http';
  const target = socketTarget(spec);
  const authority = hostPort(spec.connectIp.address, spec.connectPort);
  const method = (options.method ?? 'GET').toUpperCase();
  let compileError: string | undefined;
  const urls: PreparedUrl[] = spec.urls.map((url) => {
    const vhost = url.virtualhost ?? spec.virtualhost;
    let regex: RegExp | undefined;
    if (url.regex !== undefined) {
      try {
        regex = compilePcre(url.regex, url.regexOptions);
      } catch (err) {
        compileError ??= (err as Error).message;
      }
    }
    // SNI only with enable_sni, as keepalived; the name is the virtual host, never an address.
    const servername = secure && spec.enableSni && vhost !== undefined && net.isIP(vhost) === 0 ? vhost : undefined;
    return { url, host: vhost ?? authority, servername, regex };
  });
  const hosts = [...new Set(urls.map((u) => u.host))];
  const label =
    `HTTP ${method} ${scheme}://${authority}${spec.urls.map((u) => u.path).join(', ') || '/'}` +
    (hosts.length === 1 && hosts[0] !== authority ? ` (Host: ${hosts[0]})` : '');
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(options.headers ?? {})) headers[name.toLowerCase()] = value;
  headers['user-agent'] = USER_AGENT;
  const keyParts = {
    conn: connectionKey(spec),
    secure,
    sni: spec.enableSni,
    vhost: spec.virtualhost ?? '',
    urls: spec.urls,
    method,
    headers,
    verify: options.verifyCertificate ?? false,
    ca: options.ca?.toString() ?? '',
    // A digest, so the key holds no secret; a renewed certificate or key makes a new probe on reload.
    client: clientFingerprint(options.clientCertificate),
    expect: options.expectHeaders?.map((h) => ({ ...h, pattern: h.pattern?.toString() })) ?? [],
  };

  // One context for every connection: parsing the certificates (and decrypting the key) per handshake would cost more than the check.
  let secureContext: tls.SecureContext | undefined;
  let contextError: string | undefined;
  if (secure && (options.ca !== undefined || options.clientCertificate !== undefined)) {
    try {
      secureContext = tls.createSecureContext({ ...(options.ca !== undefined && { ca: options.ca }), ...options.clientCertificate });
    } catch (err) {
      contextError = `TLS: cannot use the ${options.clientCertificate ? 'client certificate or CA' : 'CA'}: ${(err as Error).message}`;
    }
  }

  async function run(deadline: number): Promise<ProbeResult> {
    const attempt = new Attempt(label);
    if (compileError !== undefined) return attempt.fail(compileError);
    if (contextError !== undefined) return attempt.fail(contextError);
    if (urls.length === 0) return attempt.fail('no url to check');
    const remaining = deadline - performance.now();
    if (remaining <= 0) return attempt.fail('deadline passed before the connect');
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(new DeadlineError('deadline reached')), remaining);
    try {
      let status = 0;
      for (const prepared of urls) {
        const outcome = await checkUrl(prepared, deadline, abort.signal);
        if (typeof outcome !== 'number') {
          const where = urls.length > 1 ? `${prepared.url.path}: ` : '';
          return attempt.fail(where + outcome.detail, outcome.hard);
        }
        status = outcome;
      }
      return attempt.ok(urls.length > 1 ? `all ${urls.length} urls passed` : `status ${status}`);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The accepted status code, or why the url failed. */
  async function checkUrl(prepared: PreparedUrl, deadline: number, deadlineSignal: AbortSignal): Promise<number | Failure> {
    const { url } = prepared;
    const step = (): number => stepTimeout(spec.connectTimeoutMs, deadline);
    // connect_timeout per read step, on our own timer: undici's parser timers tick every 500 ms.
    const stall = new StepTimer(step);
    const signal = AbortSignal.any([deadlineSignal, stall.signal]);
    const tlsOptions: ConnectionOptions | undefined = secure
      ? {
          // keepalived's SSL_GET never verifies the certificate; verification is opt-in here.
          rejectUnauthorized: options.verifyCertificate ?? false,
          ...(secureContext !== undefined && { secureContext }),
          ...(prepared.servername !== undefined && { servername: prepared.servername }),
          ALPNProtocols: ['http/1.1'],
        }
      : undefined;
    let tlsError: Error | undefined;
    const { Client } = await undici;
    // A client per request, destroyed after it, so no socket outlives the probe.
    const client = new Client(`${scheme}://${authority}`, {
      connect: connector(target, tlsOptions, step, () => stall.arm('no response headers'), (err) => (tlsError = err)),
      pipelining: 0,
    });
    try {
      const response = await client.request({
        path: url.path,
        method: method as Dispatcher.HttpMethod,
        headers: { ...headers, host: prepared.host },
        signal,
        reset: true,
      });
      stall.arm('no body data');
      return (await judge(prepared, response, stall)) ?? response.statusCode;
    } catch (err) {
      if (deadlineSignal.aborted) return { detail: 'deadline reached', hard: false };
      if (stall.signal.aborted) return { detail: (stall.signal.reason as Error).message, hard: false };
      return failureOf(err, tlsError);
    } finally {
      stall.clear();
      client.destroy().catch(() => {});
    }
  }

  async function judge(prepared: PreparedUrl, response: Dispatcher.ResponseData, stall: StepTimer): Promise<Failure | undefined> {
    const { url } = prepared;
    const { statusCode, headers: got, body } = response;
    // Destroying an unread body emits an abort error; the connection is closing anyway.
    body.on('error', () => {});
    if (!statusAccepted(statusCode, url.statusCodes)) {
      body.destroy();
      return { detail: `status ${statusCode}, expected ${describeStatusRanges(url.statusCodes)}`, hard: false };
    }
    for (const expected of options.expectHeaders ?? []) {
      const mismatch = headerMismatch(got, expected);
      if (mismatch !== undefined) {
        body.destroy();
        return { detail: mismatch, hard: false };
      }
    }
    if (url.digest === undefined && prepared.regex === undefined) {
      body.destroy();
      return undefined;
    }
    const lengthHeader = got['content-length'];
    const contentLength = typeof lengthHeader === 'string' && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : undefined;
    const keepBytes = prepared.regex === undefined ? 0 : Math.max(REGEX_WINDOW, url.regexMaxOffset + REGEX_WINDOW);
    const reader = new BodyDigest({ digest: url.digest !== undefined, contentLength, keepBytes });
    for await (const chunk of body) {
      stall.arm('no body data');
      reader.update(chunk as Buffer);
      // Without a digest there is nothing to read past the regex window.
      if (url.digest === undefined && reader.length >= keepBytes) break;
    }
    body.destroy();
    const digest = reader.digest();
    if (url.digest !== undefined && digest !== url.digest) {
      return { detail: `body MD5 ${digest}, expected ${url.digest} (${reader.length} bytes)`, hard: false };
    }
    if (prepared.regex !== undefined) {
      const matched = regexMatches(prepared.regex, reader.kept(), url);
      if (matched === url.regexNoMatch) {
        return { detail: `body ${matched ? 'matches' : 'does not match'} /${url.regex}/${url.regexNoMatch ? ' (regex_no_match)' : ''}`, hard: false };
      }
    }
    return undefined;
  }

  return { key: probeKey(spec.type, keyParts), describe: () => label, run };
}

function clientFingerprint(client: ClientCertificate | undefined): string {
  if (client === undefined) return '';
  return createHash('sha256').update(client.cert).update('\0').update(client.key).update('\0').update(client.passphrase ?? '').digest('hex');
}

function failureOf(err: unknown, tlsError: Error | undefined): Failure {
  const code = (err as { code?: string } | null)?.code;
  switch (code) {
    case 'ERR_CHECK_STEP_TIMEOUT':
      return { detail: (err as Error).message, hard: false };
    case 'UND_ERR_SOCKET': {
      const cause = (err as { cause?: unknown }).cause;
      if (cause !== undefined) return describeError(cause);
      if (tlsError !== undefined) return failureOf(tlsError, undefined);
      return { detail: `connection closed before a complete response (${(err as Error).message})`, hard: false };
    }
    default: {
      const { detail, hard } = describeError(err);
      const isTls = code !== undefined && (code.startsWith('ERR_TLS') || code.startsWith('ERR_SSL') || code.includes('CERT'));
      return { detail: isTls ? `TLS: ${detail}` : detail, hard };
    }
  }
}
