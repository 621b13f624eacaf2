/**
 * Turning what an operator configures (`S3_ENCRYPTION_KEY=...`) into keys: an age identity
 * (`AGE-SECRET-KEY-1…`), an age recipient (`age1…`, write-only), a Fernet key (32 bytes,
 * base64url, as the seed used), or the path of a file holding one of those (age-keygen's file
 * format works as is). Errors name the variable and never echo the secret.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { ConfigError } from '../../errors.ts';
import { isIdentity, isRecipient, parseIdentity, parseIdentityFile, parseRecipient, type X25519Identity, type X25519Recipient } from '../age/index.ts';
import { formatFernetKey, parseFernetKey, type FernetKey } from '../fernet/fernet.ts';
import type { AgeKey, FernetLocationKey, LocationKey } from './port.ts';

function shortHash(bytes: Buffer | string): string {
  return createHash('sha256').update(bytes).digest('hex').slice(0, 16);
}

export function ageKey(identity: X25519Identity): AgeKey;
export function ageKey(recipient: X25519Recipient, identity?: undefined): AgeKey;
export function ageKey(from: X25519Identity | X25519Recipient): AgeKey {
  const identity = 'recipient' in from ? from : undefined;
  const recipient = identity ? identity.recipient : (from as X25519Recipient);
  return { format: 'age', id: `age:${shortHash(recipient.toString())}`, recipient, identity };
}

export function fernetKey(key: FernetKey): FernetLocationKey {
  // The id hashes the canonical key text: a fingerprint, never the key.
  return { format: 'fernet', id: `fernet:${shortHash(`fernet:${formatFernetKey(key)}`)}`, key };
}

const EXPECTED = 'an age identity (AGE-SECRET-KEY-1…), an age recipient (age1…), a Fernet key (32 bytes, base64url) or the path of a file holding one';

/** Parse one configured key; `variable` is named in every error. */
export function parseKeyText(variable: string, raw: string): LocationKey {
  const text = raw.trim();
  if (isIdentity(text)) return ageKey(parseIdentity(text));
  if (isRecipient(text)) return ageKey(parseRecipient(text));
  if (looksLikePath(text)) return parseKeyFile(variable, text);
  try {
    return fernetKey(parseFernetKey(text));
  } catch {
    throw new ConfigError(variable, `must be ${EXPECTED}`);
  }
}

function looksLikePath(text: string): boolean {
  return (text.startsWith('/') || text.startsWith('./') || text.startsWith('../') || text.startsWith('~')) && !/\s/.test(text);
}

function parseKeyFile(variable: string, path: string): LocationKey {
  if (!existsSync(path) || !statSync(path).isFile()) throw new ConfigError(variable, `names the key file ${path}, which does not exist`);
  const content = readFileSync(path, 'utf8');
  const lines = content
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  if (lines.some(isIdentity)) {
    const identities = parseIdentityFile(content);
    const last = identities.at(-1);
    if (last === undefined) throw new ConfigError(variable, `key file ${path} holds no identity`);
    return ageKey(last);
  }
  if (lines.length === 1 && lines[0] !== undefined) {
    if (isRecipient(lines[0])) return ageKey(parseRecipient(lines[0]));
    try {
      return fernetKey(parseFernetKey(lines[0]));
    } catch {
      // fall through to the error below
    }
  }
  throw new ConfigError(variable, `key file ${path} must hold ${EXPECTED.replace(/ or the path of a file holding one$/, '')}`);
}
