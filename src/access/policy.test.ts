import { describe, expect, it } from 'vitest';
import { AccessPolicy, DEFAULT_ALLOWED_ROLES, SYSTEM_ROLE, type Subject } from './policy.ts';

const who = (roles: string[], revokedAt: Date | null = null): Subject => ({ name: 'p', roles, revokedAt });

describe('access policy', () => {
  const policy = new AccessPolicy(DEFAULT_ALLOWED_ROLES);

  it('gives each department its own location, admin and system every location', () => {
    const matrix = Object.fromEntries(
      ['analytics', 'operations', 'compliance', 'admin', 'system'].map((role) => [role, policy.locations.filter((l) => policy.authorize(who([role]), l).allowed)]),
    );
    expect(matrix).toEqual({
      analytics: ['aws'],
      operations: ['azure'],
      compliance: ['gcp'],
      admin: ['aws', 'azure', 'gcp'],
      system: ['aws', 'azure', 'gcp'],
    });
    expect(policy.authorize(who(['operations', 'analytics']), 'aws')).toEqual({ allowed: true, role: 'analytics' });
  });

  it('denies by default, with a stable reason: unknown location, no roles, revoked, role not allowed', () => {
    expect(policy.authorize(who(['admin']), 'moon')).toMatchObject({ allowed: false, reason: 'unknown_location' });
    expect(policy.authorize(who(['system']), 'moon')).toMatchObject({ allowed: false, reason: 'unknown_location' });
    expect(policy.authorize(who([]), 'aws')).toMatchObject({ allowed: false, reason: 'no_roles' });
    expect(policy.authorize(who(['admin'], new Date()), 'aws')).toMatchObject({ allowed: false, reason: 'revoked' });
    expect(policy.authorize(who(['analytics']), 'gcp')).toMatchObject({ allowed: false, reason: 'role_not_allowed', message: 'principal p may not access location gcp' });
    // Role names are exact: no case folding, no prefixes.
    expect(policy.authorize(who(['Analytics']), 'aws').allowed).toBe(false);
    expect(policy.authorize(who(['analytics-team']), 'aws').allowed).toBe(false);
  });

  it('always allows system, even where the configuration forgot it, and honours a configured map exactly', () => {
    const custom = new AccessPolicy({ aws: ['finance'], azure: [] });
    expect(custom.authorize(who(['finance']), 'aws').allowed).toBe(true);
    expect(custom.authorize(who(['admin']), 'aws')).toMatchObject({ allowed: false, reason: 'role_not_allowed' });
    expect(custom.authorize(who([SYSTEM_ROLE]), 'azure')).toEqual({ allowed: true, role: 'system' });
    expect(custom.authorize(who(['finance']), 'gcp')).toMatchObject({ allowed: false, reason: 'unknown_location' });
    expect(custom.allowedRoles('aws')).toEqual(['finance', 'system']);
    expect(custom.allowedRoles('gcp')).toEqual([]);
  });

  it('is frozen: changing the map it was built from changes nothing', () => {
    const map: Record<string, string[]> = { aws: ['analytics'] };
    const built = new AccessPolicy(map);
    map['aws']?.push('intruder');
    map['gcp'] = ['intruder'];
    expect(built.authorize(who(['intruder']), 'aws').allowed).toBe(false);
    expect(built.authorize(who(['intruder']), 'gcp').allowed).toBe(false);
    expect(Object.isFrozen(DEFAULT_ALLOWED_ROLES) && Object.isFrozen(DEFAULT_ALLOWED_ROLES['aws'])).toBe(true);
    expect(Object.isFrozen(built)).toBe(true);
  });

  it('checks role lists for operations not tied to a location, without implying system', () => {
    expect(policy.authorizeRoles(who(['admin']), ['admin'])).toEqual({ allowed: true, role: 'admin' });
    expect(policy.authorizeRoles(who(['system']), ['admin'])).toMatchObject({ allowed: false, reason: 'role_not_allowed' });
    expect(policy.authorizeRoles(who(['admin'], new Date()), ['admin'])).toMatchObject({ allowed: false, reason: 'revoked' });
  });

  it('refuses a malformed map when it is built', () => {
    expect(() => new AccessPolicy({ 'AWS East': ['admin'] })).toThrow(/location name/);
    expect(() => new AccessPolicy({ aws: ['bad role'] })).toThrow(/role "bad role"/);
  });
});
