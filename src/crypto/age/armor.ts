/**
 * ASCII armor (spec, "ASCII armor"): strict PEM (RFC 7468 §3) with the label
 * "AGE ENCRYPTED FILE", padded base64 in 64-column lines. The decoder accepts what the spec
 * allows and nothing else: whitespace-only lines before the BEGIN line and whitespace after the
 * END line, LF or CRLF line ends, a missing LF after the END line. Everything else (headers,
 * blank or short lines inside, spaces, missing padding, non-canonical base64, garbage around the
 * block) is `malformed_armor`. Both directions stream with constant memory.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { decodeBase64Padded } from './encoding.ts';
import { AgeDecryptionError } from './errors.ts';

export const ARMOR_BEGIN = '-----BEGIN AGE ENCRYPTED FILE-----';
export const ARMOR_END = '-----END AGE ENCRYPTED FILE-----';
const COLUMNS = 64;
const BYTES_PER_LINE = (COLUMNS / 4) * 3;
/** Leading whitespace we skip before giving up (as the reference implementation). */
const MAX_LEADING_WHITESPACE = 1024;
const WHITESPACE = /^[ \t\r\n\v\f]*$/;

/** Whether the first bytes of a file look armored (after optional leading whitespace). */
export function isArmored(head: Uint8Array): boolean {
  return Buffer.from(head.buffer, head.byteOffset, head.byteLength).toString('latin1').trimStart().startsWith(ARMOR_BEGIN);
}

type State = 'leading' | 'lines' | 'end-line' | 'trailing';

export class ArmorDecodeStream extends Transform {
  #state: State = 'leading';
  #line = '';
  #leading = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.#write(chunk.toString('latin1'));
    } catch (err) {
      return callback(err as Error);
    }
    callback();
  }

  override _flush(callback: TransformCallback): void {
    try {
      if (this.#line !== '') {
        const line = this.#line;
        this.#line = '';
        this.#onLine(line);
      }
      if (this.#state !== 'trailing') throw malformed(`no ${ARMOR_END} line`);
    } catch (err) {
      return callback(err as Error);
    }
    callback();
  }

  #write(text: string): void {
    let position = 0;
    for (;;) {
      const newline = text.indexOf('\n', position);
      if (newline === -1) break;
      const line = this.#line + text.slice(position, newline);
      this.#line = '';
      position = newline + 1;
      this.#onLine(line);
    }
    this.#line += text.slice(position);
    // Bound the partial line: no valid line is longer than 64 columns (or the BEGIN line) plus a
    // CR, leading whitespace has an allowance, and after END only whitespace may come.
    if (this.#state === 'trailing') {
      if (!WHITESPACE.test(this.#line)) throw malformed('data after the END line');
      this.#line = '';
    } else if (this.#state === 'leading') {
      if (WHITESPACE.test(this.#line) ? this.#leading + this.#line.length > MAX_LEADING_WHITESPACE : this.#line.length > ARMOR_BEGIN.length + 1) {
        throw malformed(`expected ${ARMOR_BEGIN}`);
      }
    } else if (this.#line.length > Math.max(COLUMNS, ARMOR_END.length) + 1) {
      throw malformed(`line longer than ${COLUMNS} columns`);
    }
  }

  #onLine(raw: string): void {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    switch (this.#state) {
      case 'leading':
        if (WHITESPACE.test(raw)) {
          this.#leading += raw.length + 1;
          if (this.#leading > MAX_LEADING_WHITESPACE) throw malformed('too much whitespace before the BEGIN line');
          return;
        }
        if (line !== ARMOR_BEGIN) throw malformed(`expected ${ARMOR_BEGIN}`);
        this.#state = 'lines';
        return;
      case 'lines': {
        if (line === ARMOR_END) {
          this.#state = 'trailing';
          return;
        }
        if (line.length > COLUMNS) throw malformed(`line longer than ${COLUMNS} columns`);
        const bytes = decodeBase64Padded(line);
        if (bytes === undefined || bytes.length === 0) throw malformed('a line is not canonical padded base64');
        if (bytes.length < BYTES_PER_LINE) this.#state = 'end-line';
        this.push(bytes);
        return;
      }
      case 'end-line':
        if (line !== ARMOR_END) throw malformed(`a line shorter than ${COLUMNS} columns must be the last before ${ARMOR_END}`);
        this.#state = 'trailing';
        return;
      case 'trailing':
        if (!WHITESPACE.test(raw)) throw malformed('data after the END line');
        return;
    }
  }
}

/** Armored text in, binary age file out. */
export function createArmorDecodeStream(): ArmorDecodeStream {
  return new ArmorDecodeStream();
}

/** Binary age file in, armored text out (LF line ends, 64 columns, padded base64). */
export function createArmorEncodeStream(): Transform {
  let carry = Buffer.alloc(0);
  let started = false;
  const begin = (stream: Transform): void => {
    if (!started) stream.push(`${ARMOR_BEGIN}\n`);
    started = true;
  };
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      begin(this);
      const data = carry.length === 0 ? chunk : Buffer.concat([carry, chunk]);
      const whole = data.length - (data.length % BYTES_PER_LINE);
      let text = '';
      for (let offset = 0; offset < whole; offset += BYTES_PER_LINE) text += `${data.toString('base64', offset, offset + BYTES_PER_LINE)}\n`;
      carry = Buffer.from(data.subarray(whole));
      if (text !== '') this.push(text);
      callback();
    },
    flush(callback) {
      begin(this);
      this.push(`${carry.length > 0 ? `${carry.toString('base64')}\n` : ''}${ARMOR_END}\n`);
      callback();
    },
  });
}

function malformed(message: string): AgeDecryptionError {
  return new AgeDecryptionError('malformed_armor', `malformed ASCII armor: ${message}`);
}
