import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { AgeDecryptionError } from './errors.ts';
import { scanHeader, serializeHeader } from './header.ts';
import {
  createPayloadDecryptor,
  encodeHeader,
  generateIdentity,
  newFileKey,
  parseHeader,
  readHeader,
  rewrapHeader,
  unwrapFileKey,
  type Stanza,
} from './index.ts';
import { decrypt, encrypt, patternBytes, pieces, through } from './test-support.ts';

function failure(action: () => unknown): string {
  try {
    action();
  } catch (err) {
    if (err instanceof AgeDecryptionError) {
      expect(err.code).toBe('decryption_failed');
      return err.reason;
    }
    return `other: ${String(err)}`;
  }
  return 'no error';
}

async function failureAsync(action: () => Promise<unknown>): Promise<string> {
  try {
    await action();
  } catch (err) {
    return err instanceof AgeDecryptionError ? err.reason : `other: ${String(err)}`;
  }
  return 'no error';
}

describe('age header', () => {
  const identity = generateIdentity();
  const fileKey = newFileKey();
  const header = encodeHeader(fileKey, [identity.recipient]);
  const text = header.toString('latin1');

  it('encodes a header that parses back and unwraps to the same file key', () => {
    expect(text).toMatch(/^age-encryption\.org\/v1\n-> X25519 [A-Za-z0-9+/]{43}\n[A-Za-z0-9+/]{43}\n--- [A-Za-z0-9+/]{43}\n$/);
    const { header: parsed, headerLength, rest } = parseHeader(Buffer.concat([header, Buffer.from('payload')]));
    expect(headerLength).toBe(header.length);
    expect(rest.toString()).toBe('payload');
    expect(parsed.stanzas).toHaveLength(1);
    expect(parsed.stanzas[0]!.type).toBe('X25519');
    expect(unwrapFileKey(parsed, [identity])).toEqual(fileKey);
  });

  it('wraps stanza bodies at 64 columns and always ends them with a shorter line', () => {
    const stanza = (bytes: number): Stanza => ({ type: 'example.com/grease', args: ['a', 'b'], body: patternBytes(bytes) });
    for (const [bytes, lines] of [[0, ['']], [47, [63]], [48, [64, 0]], [96, [64, 64, 0]], [100, [64, 64, 6]]] as const) {
      const out = serializeHeader(fileKey, [stanza(bytes)]).toString('latin1').split('\n');
      const body = out.slice(2, out.indexOf(out.find((line) => line.startsWith('---'))!));
      expect(body.map((line) => (typeof lines[0] === 'string' ? line : line.length))).toEqual(lines);
      const parsed = parseHeader(serializeHeader(fileKey, [stanza(bytes)])).header.stanzas[0]!;
      expect(parsed.body).toEqual(patternBytes(bytes));
      expect(parsed.args).toEqual(['a', 'b']);
    }
  });

  it('rejects every deviation from the grammar as malformed_header', () => {
    const [version, arg, body, mac] = text.split('\n') as [string, string, string, string];
    const join = (...lines: string[]): Buffer => Buffer.from(`${lines.join('\n')}\n`, 'latin1');
    const cases: Record<string, Buffer> = {
      'CRLF line ends': Buffer.from(text.replaceAll('\n', '\r\n'), 'latin1'),
      'unsupported version': join('age-encryption.org/v2', arg, body, mac),
      'not an age file': Buffer.from('hello world\n'),
      'no stanza': join(version, mac),
      'stanza without arguments': join(version, '->', body, mac),
      'empty argument (two spaces)': join(version, arg.replace(' ', '  '), body, mac),
      'non-VCHAR argument': join(version, `${arg} caf\u00e9`, body, mac),
      'padded body': join(version, arg, `${body}=`, mac),
      'body line over 64 columns': join(version, '-> grease', 'A'.repeat(65), '', arg, body, mac),
      'full body line without a final line': join(version, '-> grease', 'A'.repeat(64), arg, body, mac),
      'two short body lines': join(version, '-> grease', 'AAAA', 'AAAA', arg, body, mac),
      'missing body': join(version, arg, mac),
      // 32 bytes in 43 characters leave 2 unused low bits, which must be zero.
      'non-canonical body': join(version, arg, body.slice(0, -1) + B64[B64.indexOf(body.at(-1)!) ^ 1]!, mac),
      'MAC without space': join(version, arg, body, mac.replace('--- ', '---')),
      'MAC with two spaces': join(version, arg, body, mac.replace('--- ', '---  ')),
      'MAC with trailing space': join(version, arg, body, `${mac} `),
      'MAC truncated': join(version, arg, body, mac.slice(0, -2)),
      'MAC padded': join(version, arg, body, `${mac}=`),
      'garbage line': join(version, arg, body, 'garbage', mac),
    };
    for (const [name, bytes] of Object.entries(cases)) {
      expect(failure(() => parseHeader(bytes)), name).toBe('malformed_header');
    }
  });

  it('rejects malformed X25519 stanzas instead of skipping them', () => {
    const good = parseHeader(header).header.stanzas[0]!;
    const variants: Record<string, Stanza> = {
      'extra argument': { ...good, args: [...good.args, 'extra'] },
      'short share': { ...good, args: [good.args[0]!.slice(0, -2)] },
      'long body': { ...good, body: Buffer.concat([good.body, Buffer.alloc(1)]) },
      'identity point share': { ...good, args: ['AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'] },
    };
    for (const [name, stanza] of Object.entries(variants)) {
      const { header: parsed } = parseHeader(serializeHeader(fileKey, [stanza]));
      expect(failure(() => unwrapFileKey(parsed, [identity])), name).toBe('malformed_header');
    }
  });

  it('skips unknown stanza types and still finds ours', async () => {
    const grease: Stanza = { type: 'example.com/grease', args: ['x', '!"#'], body: patternBytes(70) };
    const headerBytes = serializeHeader(fileKey, [grease, identity.recipient.wrap(fileKey), { ...grease, type: 'x25519' }]);
    expect(unwrapFileKey(parseHeader(headerBytes).header, [identity])).toEqual(fileKey);
    expect(failure(() => unwrapFileKey(parseHeader(serializeHeader(fileKey, [grease])).header, [identity]))).toBe('no_identity_matched');
    // An scrypt stanza must be alone.
    const scrypt: Stanza = { type: 'scrypt', args: ['c2FsdHNhbHRzYWx0c2FsdA', '10'], body: Buffer.alloc(32) };
    expect(failure(() => unwrapFileKey(parseHeader(serializeHeader(fileKey, [identity.recipient.wrap(fileKey), scrypt])).header, [identity]))).toBe('malformed_header');
  });

  it('detects a changed MAC, a changed stanza and the wrong identity', () => {
    const { header: parsed } = parseHeader(header);
    const macFlipped = Buffer.from(parsed.mac);
    macFlipped[0]! ^= 1;
    expect(failure(() => unwrapFileKey({ ...parsed, mac: macFlipped }, [identity]))).toBe('header_mac_mismatch');
    // A stanza body bit flip: the wrap no longer authenticates, so no identity matches.
    const bodyFlipped = Buffer.from(parsed.stanzas[0]!.body);
    bodyFlipped[3]! ^= 0x40;
    expect(failure(() => unwrapFileKey({ ...parsed, stanzas: [{ ...parsed.stanzas[0]!, body: bodyFlipped }] }, [identity]))).toBe('no_identity_matched');
    // A stanza added after encryption (same file key, MAC not recomputed).
    const other = generateIdentity();
    const withExtra = Buffer.from(text.replace('\n---', `\n${serializeStanzaText(other.recipient.wrap(fileKey))}---`), 'latin1');
    expect(failure(() => unwrapFileKey(parseHeader(withExtra).header, [other]))).toBe('header_mac_mismatch');
    expect(failure(() => unwrapFileKey(parsed, [generateIdentity()]))).toBe('no_identity_matched');
  });

  it('fails fast on bytes that cannot start a header, and bounds its size', () => {
    expect(failure(() => scanHeader(Buffer.from('PK\x03\x04')))).toBe('malformed_header');
    expect(scanHeader(Buffer.from('age-encr'))).toBeUndefined();
    expect(scanHeader(header.subarray(0, header.length - 1))).toBeUndefined();
    expect(failure(() => parseHeader(header.subarray(0, header.length - 1)))).toBe('truncated');
    const huge = serializeHeader(fileKey, [{ type: 'grease', args: [], body: Buffer.alloc(10_000) }]);
    expect(failure(() => parseHeader(huge, { maxHeaderBytes: 4096 }))).toBe('malformed_header');
    expect(parseHeader(huge, { maxHeaderBytes: 20_000 }).headerLength).toBe(huge.length);
  });

  it('reads the header from the first bytes of a stream and leaves the rest readable', async () => {
    const plaintext = patternBytes(200_000);
    const file = await encrypt(plaintext, [identity.recipient]);
    const stream = Readable.from(pieces(file, 7));
    const read = await readHeader(stream);
    expect(read.headerLength).toBe(parseHeader(file).headerLength);
    const key = unwrapFileKey(read.header, [identity]);
    // rest + the remaining stream is the payload, which decrypts on its own.
    const remaining: Buffer[] = [read.rest];
    for await (const chunk of stream) remaining.push(chunk as Buffer);
    expect(Buffer.concat(remaining)).toEqual(file.subarray(read.headerLength));
    expect(await through(Buffer.concat(remaining), [createPayloadDecryptor(key)])).toEqual(plaintext);
    expect(await failureAsync(() => readHeader(Readable.from(pieces(file.subarray(0, 40), 8))))).toBe('truncated');
    expect((await readHeader(file)).headerLength).toBe(read.headerLength);
  });
});

describe('re-wrapping a header (rotation, moves)', () => {
  it('gives a header only the new identity opens, in front of the same payload bytes', async () => {
    const before = generateIdentity();
    const after = generateIdentity();
    const plaintext = patternBytes(300_000);
    const file = await encrypt(plaintext, [before.recipient]);
    const { headerLength } = parseHeader(file);
    const newHeader = rewrapHeader(file.subarray(0, headerLength), [before], [after.recipient]);
    const rewrapped = Buffer.concat([newHeader, file.subarray(headerLength)]);
    expect(rewrapped.subarray(newHeader.length)).toEqual(file.subarray(headerLength));
    expect(await decrypt(rewrapped, [after])).toEqual(plaintext);
    expect(await failureAsync(() => decrypt(rewrapped, [before]))).toBe('no_identity_matched');
    // The old file still opens with the old identity only.
    expect(await failureAsync(() => decrypt(file, [after]))).toBe('no_identity_matched');
    // Re-wrapping needs a matching identity, and accepts the header followed by payload bytes.
    expect(failure(() => rewrapHeader(file, [after], [before.recipient]))).toBe('no_identity_matched');
    expect(parseHeader(rewrapHeader(file, [before], [after.recipient, before.recipient])).header.stanzas).toHaveLength(2);
  });
});

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

function serializeStanzaText(stanza: Stanza): string {
  // The stanza lines of a one-stanza header, between the version line and the MAC line.
  const lines = serializeHeader(newFileKey(), [stanza]).toString('latin1').split('\n');
  return `${lines.slice(1, -2).join('\n')}\n`;
}
