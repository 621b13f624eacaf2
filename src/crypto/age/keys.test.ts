import { inspect } from 'node:util';
import { bech32 } from '@scure/base';
import { describe, expect, it } from 'vitest';
import { MovingDataError } from '../../errors.ts';
import {
  X25519Identity,
  formatIdentityFile,
  generateIdentity,
  isIdentity,
  isRecipient,
  parseIdentity,
  parseIdentityFile,
  parseRecipient,
  parseRecipientsFile,
  recipientOf,
} from './index.ts';

// The example key pair printed in the age specification.
const SPEC_IDENTITY = 'AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX';
const SPEC_RECIPIENT = 'age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj';

function expectInvalid(parse: () => unknown, message?: RegExp): void {
  try {
    parse();
  } catch (err) {
    expect(err).toBeInstanceOf(MovingDataError);
    expect((err as MovingDataError).code).toBe('invalid_argument');
    if (message) expect((err as Error).message).toMatch(message);
    return;
  }
  throw new Error('expected invalid_argument');
}

describe('age X25519 keys', () => {
  it('derives the recipient of the spec example identity', () => {
    const identity = parseIdentity(SPEC_IDENTITY);
    expect(identity.encode()).toBe(SPEC_IDENTITY);
    expect(identity.recipient.toString()).toBe(SPEC_RECIPIENT);
    expect(recipientOf(SPEC_IDENTITY).toString()).toBe(SPEC_RECIPIENT);
    expect(parseRecipient(SPEC_RECIPIENT).equals(identity.recipient)).toBe(true);
  });

  it('generates identities that round-trip through their text forms', () => {
    const identity = generateIdentity();
    expect(identity.encode()).toMatch(/^AGE-SECRET-KEY-1[0-9A-Z]{58}$/);
    expect(identity.recipient.toString()).toMatch(/^age1[0-9a-z]{58}$/);
    const again = parseIdentity(`  ${identity.encode()}\n`);
    expect(again.recipient.equals(identity.recipient)).toBe(true);
    expect(recipientOf(identity).toString()).toBe(identity.recipient.toString());
    expect(generateIdentity().recipient.equals(identity.recipient)).toBe(false);
  });

  it('accepts all-uppercase recipients and all-lowercase identities (Bech32 is case-insensitive), printing the canonical case', () => {
    expect(parseRecipient(SPEC_RECIPIENT.toUpperCase()).toString()).toBe(SPEC_RECIPIENT);
    expect(parseIdentity(SPEC_IDENTITY.toLowerCase()).encode()).toBe(SPEC_IDENTITY);
  });

  it('rejects malformed keys with invalid_argument', () => {
    const flipLast = (text: string): string => text.slice(0, -1) + (text.endsWith('q') || text.endsWith('Q') ? 'p' : 'q');
    expectInvalid(() => parseIdentity(''));
    expectInvalid(() => parseIdentity('AGE-SECRET-KEY-1'));
    expectInvalid(() => parseIdentity(flipLast(SPEC_IDENTITY)));
    expectInvalid(() => parseIdentity(SPEC_IDENTITY.slice(0, 20) + SPEC_IDENTITY.slice(20).toLowerCase()));
    expectInvalid(() => parseIdentity(SPEC_RECIPIENT), /recipient/);
    expectInvalid(() => parseRecipient(SPEC_IDENTITY), /identity/);
    expectInvalid(() => parseRecipient(flipLast(SPEC_RECIPIENT)));
    expectInvalid(() => parseRecipient('age1'));
    expectInvalid(() => parseRecipient(`x${SPEC_RECIPIENT}`));
    // Right prefix and checksum, wrong length.
    expectInvalid(() => parseRecipient(bech32.encode('age', bech32.toWords(new Uint8Array(31)), false)), /31 bytes/);
    expectInvalid(() => parseIdentity(bech32.encode('age-secret-key-', bech32.toWords(new Uint8Array(33)), false).toUpperCase()), /33 bytes/);
    // Another Bech32 prefix.
    expectInvalid(() => parseRecipient(bech32.encode('age1pq', bech32.toWords(new Uint8Array(32)), false)), /prefix/);
    expect(isIdentity(SPEC_IDENTITY)).toBe(true);
    expect(isIdentity(SPEC_RECIPIENT)).toBe(false);
    expect(isRecipient(SPEC_RECIPIENT)).toBe(true);
    expect(isRecipient('nope')).toBe(false);
  });

  it('rejects low-order recipients, whose shared secret would be zero', () => {
    const lowOrder = [
      Buffer.alloc(32),
      Buffer.concat([Buffer.from([1]), Buffer.alloc(31)]),
      Buffer.from('e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800', 'hex'),
    ];
    for (const point of lowOrder) {
      expectInvalid(() => parseRecipient(bech32.encode('age', bech32.toWords(point), false)), /low-order/);
    }
  });

  it('never shows the secret when an identity is printed, logged or serialised', () => {
    const identity = generateIdentity();
    const secret = identity.encode();
    for (const shown of [String(identity), JSON.stringify({ identity }), inspect(identity), inspect({ nested: identity })]) {
      expect(shown).not.toContain(secret);
      expect(shown).not.toContain(secret.toLowerCase());
    }
    expect(String(identity)).toContain(identity.recipient.toString());
    // And error messages do not echo a malformed secret back.
    try {
      parseIdentity(`${secret.slice(0, -1)}0`);
    } catch (err) {
      expect((err as Error).message).not.toContain(secret.slice(20, 50));
    }
  });

  it('reads and writes the age-keygen key file format', () => {
    const identity = generateIdentity();
    const text = formatIdentityFile(identity, new Date('2024-01-02T03:04:05.678Z'));
    expect(text).toBe(`# created: 2024-01-02T03:04:05Z\n# public key: ${identity.recipient.toString()}\n${identity.encode()}\n`);
    const [parsed, ...others] = parseIdentityFile(`${text}\n# another\n${SPEC_IDENTITY}\r\n`);
    expect(parsed!.recipient.equals(identity.recipient)).toBe(true);
    expect(others.map((other) => other.recipient.toString())).toEqual([SPEC_RECIPIENT]);
    expectInvalid(() => parseIdentityFile('# only a comment\n\n'), /no identity/);
    expectInvalid(() => parseIdentityFile(`${SPEC_IDENTITY}\nnot a key\n`), /line 2/);
    expect(parseRecipientsFile(`# team\n${SPEC_RECIPIENT}\n\n${identity.recipient.toString()}\n`).map(String)).toEqual([SPEC_RECIPIENT, identity.recipient.toString()]);
  });

  it('takes raw 32-byte keys and checks their length', () => {
    expectInvalid(() => new X25519Identity(new Uint8Array(16)));
    const identity = new X25519Identity(new Uint8Array(32).fill(7));
    expect(parseIdentity(identity.encode()).recipient.equals(identity.recipient)).toBe(true);
    expect(identity.recipient.publicKey.length).toBe(32);
  });
});
