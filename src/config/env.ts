/**
 * Typed readers over an environment record. Each reader names the variable in its error, so a
 * bad value at start-up says exactly what to fix (Fastify's initial-config-validation idea).
 */
import { ConfigError } from '../errors.ts';

export type Env = Readonly<Record<string, string | undefined>>;

export class EnvReader {
  readonly #env: Env;
  readonly #read = new Set<string>();

  constructor(env: Env) {
    this.#env = env;
  }

  /** Variables that were looked at (for diagnostics). */
  get consulted(): ReadonlySet<string> {
    return this.#read;
  }

  /** The trimmed value, or undefined when unset or empty. */
  optional(name: string): string | undefined {
    this.#read.add(name);
    const value = this.#env[name]?.trim();
    return value === undefined || value === '' ? undefined : value;
  }

  isSet(name: string): boolean {
    return this.optional(name) !== undefined;
  }

  string(name: string, fallback: string): string {
    return this.optional(name) ?? fallback;
  }

  required(name: string, why: string): string {
    const value = this.optional(name);
    if (value === undefined) throw new ConfigError(name, `is required ${why}`);
    return value;
  }

  integer(name: string, fallback: number, range: { min: number; max: number }): number {
    const raw = this.optional(name);
    if (raw === undefined) return fallback;
    if (!/^-?\d+$/.test(raw)) throw new ConfigError(name, `must be an integer, got '${raw}'`);
    const value = Number(raw);
    if (value < range.min || value > range.max) throw new ConfigError(name, `must be between ${range.min} and ${range.max}, got ${value}`);
    return value;
  }

  /**
   * A size in bytes, or with a binary unit as rclone writes them: `8M`, `8Mi` and `8MiB` are all
   * 8 MiB (K, M, G; case-insensitive). Undefined when unset.
   */
  bytes(name: string, range: { min: number; max: number }): number | undefined {
    const raw = this.optional(name);
    if (raw === undefined) return undefined;
    const match = /^(\d+)\s*(?:([kmg])(?:ib?|b)?|b)?$/i.exec(raw);
    if (!match) throw new ConfigError(name, `must be a size in bytes, or with K, M or G (binary units: 8M = 8MiB = 8388608), got '${raw}'`);
    const unit = match[2]?.toLowerCase();
    const value = Number(match[1]) * (unit === 'k' ? 1024 : unit === 'm' ? 1024 ** 2 : unit === 'g' ? 1024 ** 3 : 1);
    if (value < range.min || value > range.max) throw new ConfigError(name, `must be between ${formatBytes(range.min)} and ${formatBytes(range.max)}, got ${formatBytes(value)}`);
    return value;
  }

  number(name: string, fallback: number, range: { min: number; max: number }): number {
    const raw = this.optional(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isFinite(value)) throw new ConfigError(name, `must be a number, got '${raw}'`);
    if (value < range.min || value > range.max) throw new ConfigError(name, `must be between ${range.min} and ${range.max}, got ${value}`);
    return value;
  }

  boolean(name: string, fallback: boolean): boolean {
    const raw = this.optional(name);
    if (raw === undefined) return fallback;
    const lowered = raw.toLowerCase();
    if (['1', 'true', 'yes', 'on'].includes(lowered)) return true;
    if (['0', 'false', 'no', 'off'].includes(lowered)) return false;
    throw new ConfigError(name, `must be a boolean (1/0, true/false, yes/no, on/off), got '${raw}'`);
  }

  oneOf<T extends string>(name: string, choices: readonly T[], fallback: T): T {
    const raw = this.optional(name);
    if (raw === undefined) return fallback;
    if (!(choices as readonly string[]).includes(raw)) throw new ConfigError(name, `must be one of ${choices.join(', ')}, got '${raw}'`);
    return raw as T;
  }

  url(name: string, protocols: readonly string[]): URL | undefined {
    const raw = this.optional(name);
    if (raw === undefined) return undefined;
    let parsed: URL;
    try {
      parsed = new URL(raw);
    } catch {
      throw new ConfigError(name, `must be a URL, got '${raw}'`);
    }
    if (!protocols.includes(parsed.protocol.replace(/:$/, ''))) {
      throw new ConfigError(name, `must use ${protocols.join(' or ')}, got '${parsed.protocol.replace(/:$/, '')}'`);
    }
    return parsed;
  }

  csv(name: string, fallback: readonly string[]): readonly string[] {
    const raw = this.optional(name);
    if (raw === undefined) return fallback;
    return raw
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item !== '');
  }
}

/** `8 MiB`, `64 KiB`, `5 GiB`, or plain bytes when no binary unit divides the value. */
function formatBytes(bytes: number): string {
  for (const [unit, size] of [['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024]] as const) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size} ${unit}`;
  }
  return `${bytes} bytes`;
}
