/**
 * API tokens: `mdt_` followed by 32 random bytes in base64url (43 characters). The prefix
 * makes a leaked token recognisable to secret scanners and to a human reading a log.
 *
 * Stored as plain SHA-256, on purpose. A slow password hash (scrypt, argon2) exists to make
 * guessing a *low-entropy* secret expensive after the hashes leak. A 256-bit random token
 * cannot be guessed however fast the hash is, so a slow hash would only cost CPU on every
 * request. The fast hash also lets the database look a token up by an index on its hash.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export const TOKEN_PREFIX = 'mdt_';
const TOKEN_BYTES = 32;

/**
 * What the Authorization header may carry: RFC 6750's token68 characters. Tokens not minted
 * here (the demo admin's `MOVINGDATA_ADMIN_TOKEN`) must still be at least `MIN_TOKEN_LENGTH`
 * long, since only high entropy makes a fast hash safe.
 */
const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*$/;
export const MIN_TOKEN_LENGTH = 16;
export const MAX_TOKEN_LENGTH = 512;

export function generateToken(): string {
  return `${TOKEN_PREFIX}${randomBytes(TOKEN_BYTES).toString('base64url')}`;
}

/** Lowercase hex SHA-256 of the token's UTF-8 bytes: what the metadata store keeps. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Whether a string can be a token at all (checked before any database lookup). */
export function isWellFormedToken(token: string): boolean {
  return token.length >= MIN_TOKEN_LENGTH && token.length <= MAX_TOKEN_LENGTH && TOKEN68.test(token);
}

/**
 * Compare two secrets without leaking, through timing, how long a prefix they share. Both
 * sides are hashed first, so the comparison has a fixed length whatever the inputs.
 *
 * Where it matters: comparing a presented secret with a known one in memory. Looking a token
 * up by its hash in the database does not need it: timing there reveals at most a prefix of
 * the hash, which does not help anyone forge a token.
 */
export function constantTimeEqual(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a, 'utf8').digest(), createHash('sha256').update(b, 'utf8').digest());
}
