/**
 * The local keyring: the KeyProvider adapter that keeps keys in the data directory.
 *
 * Per location, a key can come from configuration (`S3_ENCRYPTION_KEY`, ...) or from the
 * keyring file `<dataDir>/keys/<location>.json` (mode 600), which holds keys this process made:
 * demo keys and rotated keys. A configured key is never copied into the file (it may come from a
 * secret manager); the file only remembers its id, so that a *new* configured key becomes the
 * active one while an unchanged one does not override a later rotation.
 *
 * Outside demo mode a location without any key is a start-up error naming its variable; in demo
 * mode a key is generated once, stored, and announced loudly.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError, MovingDataError } from '../../errors.ts';
import { generateIdentity, parseIdentity } from '../age/index.ts';
import { formatFernetKey, generateFernetKey, parseFernetKey } from '../fernet/fernet.ts';
import { ageKey, fernetKey, parseKeyText } from './key-text.ts';
import type { KeyProvider, LocationKey, LocationKeys } from './port.ts';

export interface KeySource {
  readonly location: string;
  /** The configuration variable, for messages (`S3_ENCRYPTION_KEY`). */
  readonly variable: string;
  /** Its value: key text or a key file path; undefined when unset. */
  readonly value: string | undefined;
}

export interface LocalKeyringOptions {
  readonly dir: string;
  readonly sources: readonly KeySource[];
  /** Generate a missing key instead of failing (demo mode only). */
  readonly demo: boolean;
  /** Told about every generated key (demo keys must be announced loudly). */
  readonly announce?: (message: string) => void;
}

interface StoredKey {
  readonly id: string;
  readonly format: 'age' | 'fernet';
  /** AGE-SECRET-KEY-1… or the Fernet key text. */
  readonly secret: string;
  readonly created: string;
  readonly origin: 'demo' | 'rotation';
}

interface KeyringFile {
  readonly version: 1;
  /** Id of the active key (configured or stored). */
  active: string | undefined;
  /** Ids of configured keys seen so far (never their secrets). */
  seenConfigured: string[];
  keys: StoredKey[];
}

function toStored(key: LocationKey, origin: StoredKey['origin']): StoredKey {
  if (key.format === 'fernet') return { id: key.id, format: 'fernet', secret: formatFernetKey(key.key), created: new Date().toISOString(), origin };
  if (key.identity === undefined) throw new MovingDataError('internal', 'cannot store a key without its identity');
  return { id: key.id, format: 'age', secret: key.identity.encode(), created: new Date().toISOString(), origin };
}

function fromStored(stored: StoredKey): LocationKey {
  return stored.format === 'fernet' ? fernetKey(parseFernetKey(stored.secret)) : ageKey(parseIdentity(stored.secret));
}

export class LocalKeyring implements KeyProvider {
  readonly #dir: string;
  readonly #keys = new Map<string, LocationKeys>();
  readonly #files = new Map<string, KeyringFile>();
  readonly #configured = new Map<string, LocationKey>();
  readonly #announce: (message: string) => void;

  private constructor(dir: string, announce: (message: string) => void) {
    this.#dir = dir;
    this.#announce = announce;
  }

  /** Load (and in demo mode, create) every location's keys; errors name the variable. */
  static async open(options: LocalKeyringOptions): Promise<LocalKeyring> {
    const keyring = new LocalKeyring(options.dir, options.announce ?? (() => undefined));
    for (const source of options.sources) await keyring.#load(source, options.demo);
    return keyring;
  }

  keysFor(location: string): LocationKeys {
    const keys = this.#keys.get(location);
    if (keys === undefined) throw new MovingDataError('not_found', `no keys for location '${location}'`);
    return keys;
  }

  async rotate(location: string): Promise<LocationKeys> {
    const current = this.keysFor(location);
    const file = this.#files.get(location)!;
    const fresh = current.active.format === 'fernet' ? fernetKey(generateFernetKey()) : ageKey(generateIdentity());
    file.keys.push(toStored(fresh, 'rotation'));
    file.active = fresh.id;
    await this.#save(location, file);
    this.#resolve(location, file);
    return this.keysFor(location);
  }

  async reload(location: string): Promise<LocationKeys> {
    this.keysFor(location);
    const file = await this.#read(location);
    if (file.keys.length > 0 || this.#configured.has(location)) {
      this.#files.set(location, file);
      this.#resolve(location, file);
    }
    return this.keysFor(location);
  }

  async #load(source: KeySource, demo: boolean): Promise<void> {
    const file = await this.#read(source.location);
    let changed = false;
    if (source.value !== undefined) {
      const configured = parseKeyText(source.variable, source.value);
      this.#configured.set(source.location, configured);
      if (!file.seenConfigured.includes(configured.id)) {
        file.seenConfigured.push(configured.id);
        file.active = configured.id;
        changed = true;
      }
    }
    if (source.value === undefined && file.keys.length === 0) {
      if (!demo) {
        throw new ConfigError(
          source.variable,
          `is required outside demo mode: an age identity (age-keygen), an age recipient for a write-only location, a Fernet key, or a key file path (or start with --demo to generate demo keys)`,
        );
      }
      const generated = ageKey(generateIdentity());
      file.keys.push(toStored(generated, 'demo'));
      file.active = generated.id;
      changed = true;
      this.#announce(
        `DEMO KEY generated for location '${source.location}' (${generated.id}, recipient ${generated.recipient.toString()}), stored in ${this.#path(source.location)}. ` +
          `Demo mode only: set ${source.variable} for real use.`,
      );
    }
    if (changed) await this.#save(source.location, file);
    this.#files.set(source.location, file);
    this.#resolve(source.location, file);
  }

  #resolve(location: string, file: KeyringFile): void {
    const configured = this.#configured.get(location);
    const stored = file.keys.map(fromStored);
    const all = [...(configured ? [configured] : []), ...stored.filter((k) => k.id !== configured?.id)];
    // The active key: the file's choice when it still exists, else the newest key we hold.
    const active = all.find((k) => k.id === file.active) ?? stored.at(-1) ?? configured;
    if (active === undefined) throw new MovingDataError('internal', `location '${location}' has no key`);
    this.#keys.set(location, Object.freeze({ location, active, all: Object.freeze([active, ...all.filter((k) => k !== active)]) }));
  }

  #path(location: string): string {
    return join(this.#dir, `${location}.json`);
  }

  async #read(location: string): Promise<KeyringFile> {
    let text: string;
    try {
      text = await readFile(this.#path(location), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, active: undefined, seenConfigured: [], keys: [] };
      throw err;
    }
    const parsed = JSON.parse(text) as Partial<KeyringFile>;
    if (parsed.version !== 1 || !Array.isArray(parsed.keys)) throw new MovingDataError('config_invalid', `keyring file ${this.#path(location)} is not a MovingData keyring`);
    return { version: 1, active: parsed.active, seenConfigured: parsed.seenConfigured ?? [], keys: parsed.keys };
  }

  async #save(location: string, file: KeyringFile): Promise<void> {
    await mkdir(this.#dir, { recursive: true, mode: 0o700 });
    const path = this.#path(location);
    const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
    await writeFile(tmp, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
    await rename(tmp, path);
  }
}
