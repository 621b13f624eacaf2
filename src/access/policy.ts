/**
 * Role-based access to locations. Each location lists the roles allowed to read and write it
 * (`S3_ALLOWED_ROLES`, `AZURE_ALLOWED_ROLES`, `GCS_ALLOWED_ROLES`, parsed by the configuration);
 * `system`, MovingData's own identity for workers and repairs, is allowed everywhere. Anything
 * not explicitly allowed is denied: a location nobody configured, a principal without roles,
 * a revoked principal.
 *
 * Decisions are data, so the caller can audit the denial with its reason before refusing.
 */
import { MovingDataError } from '../errors.ts';

export const SYSTEM_ROLE = 'system';
export const ADMIN_ROLE = 'admin';

/** Location name -> roles allowed there. */
export type AllowedRoles = Readonly<Record<string, readonly string[]>>;

/**
 * The seed's departments get scoped access: analytics on AWS, operations on Azure, compliance
 * on GCP; admin and system everywhere.
 */
export const DEFAULT_ALLOWED_ROLES: AllowedRoles = Object.freeze({
  aws: Object.freeze([ADMIN_ROLE, 'analytics', SYSTEM_ROLE]),
  azure: Object.freeze([ADMIN_ROLE, 'operations', SYSTEM_ROLE]),
  gcp: Object.freeze([ADMIN_ROLE, 'compliance', SYSTEM_ROLE]),
});

/** What a decision needs to know about the caller (a metadata `Principal` fits). */
export interface Subject {
  readonly name: string;
  readonly roles: readonly string[];
  readonly revokedAt?: Date | null;
}

export type DenialReason = 'revoked' | 'no_roles' | 'unknown_location' | 'role_not_allowed';

export type Decision =
  /** `role`: the caller's role that granted access (for the audit trail). */
  | { readonly allowed: true; readonly role: string }
  | { readonly allowed: false; readonly reason: DenialReason; readonly message: string };

const LOCATION_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const ROLE_NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;

function deny(reason: DenialReason, message: string): Decision {
  return { allowed: false, reason, message };
}

export class AccessPolicy {
  readonly #allowed: ReadonlyMap<string, ReadonlySet<string>>;

  /** Validated once and copied: later changes to `allowedRoles` do not reach the policy. */
  constructor(allowedRoles: AllowedRoles = DEFAULT_ALLOWED_ROLES) {
    const allowed = new Map<string, ReadonlySet<string>>();
    for (const [location, roles] of Object.entries(allowedRoles)) {
      if (!LOCATION_NAME.test(location)) {
        throw new MovingDataError('invalid_argument', `access policy: location name ${JSON.stringify(location)} is not a lowercase identifier`, { retryable: false });
      }
      for (const role of roles) {
        if (!ROLE_NAME.test(role)) {
          throw new MovingDataError('invalid_argument', `access policy: role ${JSON.stringify(role)} of location ${location} is not a valid role name`, { retryable: false });
        }
      }
      allowed.set(location, new Set([...roles, SYSTEM_ROLE]));
    }
    this.#allowed = allowed;
    Object.freeze(this);
  }

  /** Configured locations, in configuration order. */
  get locations(): readonly string[] {
    return [...this.#allowed.keys()];
  }

  /** Roles allowed at a location (always including `system`), sorted; empty if unknown. */
  allowedRoles(location: string): readonly string[] {
    return [...(this.#allowed.get(location) ?? [])].sort();
  }

  /** May `subject` read and write objects at `location`? */
  authorize(subject: Subject, location: string): Decision {
    const early = this.#checkSubject(subject);
    if (early !== undefined) return early;
    const allowed = this.#allowed.get(location);
    if (allowed === undefined) return deny('unknown_location', `no location named ${JSON.stringify(location)} is open to anyone`);
    return this.#match(subject, allowed, `principal ${subject.name} may not access location ${location}`);
  }

  /**
   * For operations not tied to a location (managing tokens, reading the audit trail): does
   * `subject` hold one of `roles`? `system` is not implied here; list it where it belongs.
   */
  authorizeRoles(subject: Subject, roles: readonly string[]): Decision {
    const early = this.#checkSubject(subject);
    if (early !== undefined) return early;
    return this.#match(subject, new Set(roles), `principal ${subject.name} lacks the role this requires (${[...roles].sort().join(' or ')})`);
  }

  #checkSubject(subject: Subject): Decision | undefined {
    if (subject.revokedAt !== undefined && subject.revokedAt !== null) return deny('revoked', `principal ${subject.name} is revoked`);
    if (subject.roles.length === 0) return deny('no_roles', `principal ${subject.name} has no roles`);
    return undefined;
  }

  #match(subject: Subject, allowed: ReadonlySet<string>, message: string): Decision {
    // Sorted, so the role reported for the audit trail does not depend on the token's role order.
    const role = [...subject.roles].sort().find((r) => allowed.has(r));
    return role === undefined ? deny('role_not_allowed', message) : { allowed: true, role };
  }
}
