// UDP_CHECK's require_reply: hex with X wildcard nibbles, compared over min(reply, pattern) bytes.
// Pure.

export interface ReplyPattern {
  value: Buffer;
  /** 0xf0 / 0x0f / 0xff per byte: the nibbles that must match. */
  mask: Buffer;
}

export class ReplyPatternError extends Error {
  readonly code = 'ERR_UDP_REPLY_PATTERN';
  override readonly name = 'ReplyPatternError';
}

export function parseReplyPattern(hex: string): ReplyPattern {
  const text = hex.replace(/^0x/i, '');
  if (text.length % 2 !== 0 || !/^[0-9a-fA-FxX]*$/.test(text)) {
    throw new ReplyPatternError(`require_reply "${hex}" is not an even number of hex digits and X wildcards`);
  }
  const value = Buffer.alloc(text.length / 2);
  const mask = Buffer.alloc(text.length / 2);
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === 'x' || c === 'X') continue;
    const shift = i % 2 === 0 ? 4 : 0;
    const byte = i >> 1;
    value[byte]! |= parseInt(c, 16) << shift;
    mask[byte]! |= 0xf << shift;
  }
  return { value, mask };
}

/** undefined when the reply is acceptable, else why not. */
export function replyMismatch(reply: Buffer, pattern: ReplyPattern | undefined, minLength: number, maxLength: number): string | undefined {
  if (reply.length < minLength) return `reply of ${reply.length} bytes, shorter than min_reply_length ${minLength}`;
  if (reply.length > maxLength) return `reply of ${reply.length} bytes, longer than max_reply_length ${maxLength}`;
  if (pattern === undefined) return undefined;
  const n = Math.min(reply.length, pattern.value.length);
  for (let i = 0; i < n; i++) {
    if ((reply[i]! & pattern.mask[i]!) !== pattern.value[i]) {
      return `reply byte ${i} is 0x${reply[i]!.toString(16).padStart(2, '0')}, does not match require_reply`;
    }
  }
  return undefined;
}

/** payload: plain hex bytes. */
export function parseHexPayload(hex: string): Buffer {
  const text = hex.replace(/^0x/i, '');
  if (text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) {
    throw new ReplyPatternError(`payload "${hex}" is not an even number of hex digits`);
  }
  return Buffer.from(text, 'hex');
}
