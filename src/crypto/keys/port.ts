/**
 * The key-provider port: where a location's encryption keys come from. The local keyring
 * (local-keyring.ts) is the adapter today; a cloud KMS or Vault adapter implements the same
 * interface later (it would hand out the same kinds of key, or unwrap file keys remotely).
 *
 * A location has one *active* key, used for every write, and any number of *readers*: the
 * active key's identity plus retired ones, so that objects written before a rotation stay
 * readable until they are re-wrapped. A location configured with only a public recipient can
 * write but not read.
 */
import type { X25519Identity, X25519Recipient } from '../age/index.ts';
import type { FernetKey } from '../fernet/fernet.ts';

export type KeyFormat = 'age' | 'fernet';

/** An age key: always its recipient; its identity when this process may decrypt. */
export interface AgeKey {
  readonly format: 'age';
  /** Stable, non-secret id: `age:` + the first 16 hex of SHA-256 of the recipient. */
  readonly id: string;
  readonly recipient: X25519Recipient;
  readonly identity: X25519Identity | undefined;
}

export interface FernetLocationKey {
  readonly format: 'fernet';
  /** Stable, non-secret id: `fernet:` + the first 16 hex of SHA-256 of the key bytes. */
  readonly id: string;
  readonly key: FernetKey;
}

export type LocationKey = AgeKey | FernetLocationKey;

export interface LocationKeys {
  readonly location: string;
  /** Encrypts every new object. */
  readonly active: LocationKey;
  /** Every key objects at this location may be sealed with (active first). */
  readonly all: readonly LocationKey[];
}

export interface KeyProvider {
  /** The keys of a location; `not_found` for a location without keys. */
  keysFor(location: string): LocationKeys;
  /**
   * Make a new active key for the location (same format as the current one) and keep the old
   * ones for reading. Re-wrapping existing objects is the caller's job.
   */
  rotate(location: string): Promise<LocationKeys>;
  /**
   * Read the location's keys again from where they are kept: another process (the API server)
   * may have rotated them since this one loaded them.
   */
  reload(location: string): Promise<LocationKeys>;
}
