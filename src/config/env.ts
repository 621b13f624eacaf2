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
