/**
 * Principals on Kysely, shared by the PGlite and PostgreSQL adapters. Small and boring on
 * purpose: one statement per call, the unique constraints arbitrate races.
 */
import { sql, type Kysely } from 'kysely';
import { MovingDataError } from '../../errors.ts';
import type { NewPrincipal, Principal, PrincipalStore, PrincipalUpdate } from '../port.ts';
import { checkPrincipalName, checkRoles, checkTokenHash } from '../validation.ts';
import { guarded, mapDatabaseError } from './errors.ts';
import { jsonText, parseId, toPrincipal } from './rows.ts';
import type { Database } from './schema.ts';

const now = sql<Date>`now()`;

/** `touch` writes at most this often per principal. */
const TOUCH_INTERVAL = sql`interval '60 seconds'`;

function noSuchPrincipal(name: string): MovingDataError {
  return new MovingDataError('not_found', `no principal named ${JSON.stringify(name)}`, { retryable: false, details: { name } });
}

/** Unique violations name the constraint; say which of the two was hit. */
function conflictOf(err: unknown, operation: string, name: string): MovingDataError {
  const mapped = mapDatabaseError(err, operation);
  if (mapped.code !== 'conflict' || mapped.retryable) return mapped;
  const constraint = typeof err === 'object' && err !== null && 'constraint' in err ? String(err.constraint) : '';
  const message = /token_hash/.test(constraint) || /token_hash/.test(mapped.message)
    ? 'this token is already issued to another principal'
    : `a principal named ${JSON.stringify(name)} already exists (names of revoked principals stay taken)`;
  return new MovingDataError('conflict', message, { retryable: false, cause: err, details: { name } });
}

export class SqlPrincipalStore implements PrincipalStore {
  readonly #db: Kysely<Database>;
  readonly #guard: () => void;

  constructor(db: Kysely<Database>, guard: () => void) {
    this.#db = db;
    this.#guard = guard;
  }

  #run<T>(operation: string, work: () => Promise<T>): Promise<T> {
    return guarded(this.#guard, operation, work);
  }

  async create(input: NewPrincipal): Promise<Principal> {
    const name = checkPrincipalName(input.name);
    const roles = checkRoles(input.roles);
    const tokenHash = checkTokenHash(input.tokenHash);
    return this.#run('createPrincipal', async () => {
      try {
        const row = await this.#db.insertInto('principals').values({ name, roles: jsonText(roles), token_hash: tokenHash }).returningAll().executeTakeFirstOrThrow();
        return toPrincipal(row);
      } catch (err) {
        throw conflictOf(err, 'createPrincipal', name);
      }
    });
  }

  async findByTokenHash(hash: string): Promise<Principal | undefined> {
    const tokenHash = checkTokenHash(hash);
    return this.#run('findPrincipalByTokenHash', async () => {
      const row = await this.#db.selectFrom('principals').selectAll().where('token_hash', '=', tokenHash).where('revoked_at', 'is', null).executeTakeFirst();
      return row ? toPrincipal(row) : undefined;
    });
  }

  async findByName(name: string): Promise<Principal | undefined> {
    checkPrincipalName(name);
    return this.#run('findPrincipalByName', async () => {
      const row = await this.#db.selectFrom('principals').selectAll().where('name', '=', name).executeTakeFirst();
      return row ? toPrincipal(row) : undefined;
    });
  }

  async list(): Promise<Principal[]> {
    return this.#run('listPrincipals', async () => {
      const rows = await this.#db.selectFrom('principals').selectAll().orderBy('name').execute();
      return rows.map(toPrincipal);
    });
  }

  async revoke(name: string, options: { readonly keepOne?: string } = {}): Promise<Principal> {
    checkPrincipalName(name);
    return this.#run('revokePrincipal', async () =>
      this.#db.transaction().execute(async (trx) => {
        if (options.keepOne !== undefined) {
          // Every live principal's row locked: concurrent revocations run one after the other,
          // and the second sees the first's, so two of them cannot remove the last two holders.
          const live = (await trx.selectFrom('principals').selectAll().where('revoked_at', 'is', null).orderBy('name').forUpdate().execute()).map(toPrincipal);
          const target = live.find((p) => p.name === name);
          const role = options.keepOne;
          if (target !== undefined && target.roles.includes(role) && live.filter((p) => p.roles.includes(role)).length <= 1) {
            throw new MovingDataError('conflict', `${JSON.stringify(name)} is the last ${role} token; create another ${role} token before revoking it`, { retryable: false, details: { name } });
          }
        }
        // coalesce keeps the first revocation time: revoking twice is not an event.
        const row = await trx
          .updateTable('principals')
          .set({ revoked_at: sql<Date>`coalesce(revoked_at, now())` })
          .where('name', '=', name)
          .returningAll()
          .executeTakeFirst();
        if (!row) throw noSuchPrincipal(name);
        return toPrincipal(row);
      }),
    );
  }

  async update(name: string, change: PrincipalUpdate): Promise<Principal> {
    checkPrincipalName(name);
    const tokenHash = change.tokenHash === undefined ? undefined : checkTokenHash(change.tokenHash);
    const roles = change.roles === undefined ? undefined : checkRoles(change.roles);
    return this.#run('updatePrincipal', async () => {
      if (tokenHash === undefined && roles === undefined && change.reinstate !== true) {
        const current = await this.#db.selectFrom('principals').selectAll().where('name', '=', name).executeTakeFirst();
        if (!current) throw noSuchPrincipal(name);
        return toPrincipal(current);
      }
      try {
        const row = await this.#db
          .updateTable('principals')
          .set({
            ...(tokenHash === undefined ? {} : { token_hash: tokenHash }),
            ...(roles === undefined ? {} : { roles: jsonText(roles) }),
            ...(change.reinstate === true ? { revoked_at: null } : {}),
          })
          .where('name', '=', name)
          .returningAll()
          .executeTakeFirst();
        if (!row) throw noSuchPrincipal(name);
        return toPrincipal(row);
      } catch (err) {
        throw conflictOf(err, 'updatePrincipal', name);
      }
    });
  }

  async touch(id: string): Promise<void> {
    const principalId = parseId(id);
    if (principalId === undefined) return;
    await this.#run('touchPrincipal', async () => {
      // The guard in WHERE makes a recent touch a no-op read of one index entry, not a write.
      await this.#db
        .updateTable('principals')
        .set({ last_used_at: now })
        .where('id', '=', principalId)
        .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<', sql<Date>`now() - ${TOUCH_INTERVAL}`)]))
        .execute();
    });
  }
}
