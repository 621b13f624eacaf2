import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { TOKEN_PREFIX, constantTimeEqual, generateToken, hashToken, isWellFormedToken } from './tokens.ts';

describe('API tokens', () => {
  it('are mdt_ plus 32 random bytes in base64url, never the same twice', () => {
    const tokens = Array.from({ length: 100 }, generateToken);
    for (const token of tokens) {
      expect(token).toMatch(/^mdt_[A-Za-z0-9_-]{43}$/);
      expect(Buffer.from(token.slice(TOKEN_PREFIX.length), 'base64url')).toHaveLength(32);
      expect(isWellFormedToken(token)).toBe(true);
    }
    expect(new Set(tokens).size).toBe(100);
  });

  it('hash to the SHA-256 hex of their UTF-8 bytes', () => {
    expect(hashToken('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    const token = generateToken();
    expect(hashToken(token)).toBe(createHash('sha256').update(token).digest('hex'));
  });

  it('must look like a token before anything looks them up', () => {
    expect(isWellFormedToken('short')).toBe(false);
    expect(isWellFormedToken('x'.repeat(513))).toBe(false);
    expect(isWellFormedToken('has a space in it somewhere')).toBe(false);
    expect(isWellFormedToken('quote"injection-attempt')).toBe(false);
    expect(isWellFormedToken('demo-admin-token-0123')).toBe(true);
    expect(isWellFormedToken('base64+/token+with+padding==')).toBe(true);
  });

  it('compare in constant time whatever their lengths', () => {
    expect(constantTimeEqual('same-secret', 'same-secret')).toBe(true);
    expect(constantTimeEqual('same-secret', 'same-secreT')).toBe(false);
    expect(constantTimeEqual('short', 'a much longer secret')).toBe(false);
  });
});
