/**
 * Key rotation for a location, step one: make a new active key (new objects are sealed with it
 * at once) and record the change. Re-wrapping the existing objects to it is step two, a job
 * (src/replication/rewrap.ts): it can take long, and runs resumably in the workers.
 */
import type { AuditTrail } from '../../audit/audit-trail.ts';
import type { KeyProvider } from './port.ts';

export interface RotatedKey {
  readonly location: string;
  readonly previousKeyId: string;
  readonly activeKeyId: string;
  readonly format: 'age' | 'fernet';
}

export async function rotateLocationKey(deps: { readonly keys: KeyProvider; readonly audit: AuditTrail }, principal: string, location: string): Promise<RotatedKey> {
  const previous = deps.keys.keysFor(location).active;
  await deps.audit.keyUse({ principal, location, keyId: previous.id, purpose: 'rotate', details: { phase: 'retire' } });
  const rotated = await deps.keys.rotate(location);
  await deps.audit.keyUse({ principal, location, keyId: rotated.active.id, purpose: 'rotate', details: { phase: 'activate', previous: previous.id } });
  return { location, previousKeyId: previous.id, activeKeyId: rotated.active.id, format: rotated.active.format };
}
