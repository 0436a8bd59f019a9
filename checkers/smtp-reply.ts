// SMTP replies (RFC 5321 §4.2): "250-first", "250-more", "250 last". Pure.

export interface SmtpReply {
  code: number;
  /** Text of the last line, for messages. */
  text: string;
  /** Bytes of the buffer this reply used. */
  length: number;
}

const MAX_REPLY = 64 * 1024;

export class SmtpReplyError extends Error {
  readonly code = 'ERR_SMTP_REPLY';
  override readonly name = 'SmtpReplyError';
}

/** The first complete reply in `buffer`, or null while more lines are due. */
export function readReply(buffer: string): SmtpReply | null {
  let at = 0;
  for (;;) {
    const end = buffer.indexOf('\n', at);
    if (end < 0) {
      if (buffer.length > MAX_REPLY) throw new SmtpReplyError(`reply longer than ${MAX_REPLY} bytes without its last line`);
      return null;
    }
    const line = buffer.slice(at, end).replace(/\r$/, '');
    const match = /^(\d{3})([ -]?)(.*)$/.exec(line);
    if (match === null) throw new SmtpReplyError(`malformed reply line "${line.slice(0, 80)}"`);
    at = end + 1;
    if (match[2] !== '-') return { code: Number(match[1]), text: match[3]!, length: at };
  }
}
