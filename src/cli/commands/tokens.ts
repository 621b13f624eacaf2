/**
 * `movingdata tokens`: issue, list and revoke API tokens, directly in the metadata store (the
 * way to get the first admin token outside demo mode). Changes are recorded in the audit
 * trail as principal `cli:<user>`.
 */
import { parseArgs } from 'node:util';
import { generateToken, hashToken } from '../../access/tokens.ts';
import { AuditTrail } from '../../audit/audit-trail.ts';
import { loadConfig } from '../../config/config.ts';
import { MovingDataError } from '../../errors.ts';
import { openMetadataStore, type MetadataStore, type Principal } from '../../metadata/index.ts';
import { cliPrincipal } from '../cli-principal.ts';

const HELP = `usage: movingdata tokens <create|list|revoke> [options]

  tokens create --name NAME --roles ROLE[,ROLE...] [--json]
      Issue a token. It is printed once and never stored (only its SHA-256 is).
  tokens list [--json]
      Names, roles, creation, last use and revocation dates (never tokens).
  tokens revoke NAME
      Revoke a token at once. The name stays taken.

Roles decide where a token may go: each location allows the roles in S3_ALLOWED_ROLES,
AZURE_ALLOWED_ROLES and GCS_ALLOWED_ROLES (defaults: admin and analytics on aws, admin and
operations on azure, admin and compliance on gcp); admin also manages tokens and reads the
audit trail; system is allowed everywhere.

The metadata store comes from the environment (DATABASE_URL, or the embedded store under
MOVINGDATA_DATA_DIR, which only one process may open at a time: stop 'movingdata serve' first,
or use the API's POST /tokens).`;

function usageError(message: string): number {
  console.error(`movingdata tokens: ${message}\n\n${HELP}`);
  return 2;
}

async function withStore<T>(work: (store: MetadataStore) => Promise<T>): Promise<T> {
  const config = loadConfig(process.env);
  const store = await openMetadataStore(config.metadata);
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}

function row(principal: Principal): Record<string, unknown> {
  return {
    name: principal.name,
    roles: principal.roles,
    created_at: principal.createdAt.toISOString(),
    last_used_at: principal.lastUsedAt?.toISOString() ?? null,
    revoked_at: principal.revokedAt?.toISOString() ?? null,
  };
}

export async function run(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: { name: { type: 'string' }, roles: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    return usageError(err instanceof Error ? err.message : String(err));
  }
  const { values, positionals } = parsed;
  const [verb, ...rest] = positionals;
  if (values.help === true || verb === undefined) {
    console.log(HELP);
    return verb === undefined && values.help !== true ? 2 : 0;
  }

  switch (verb) {
    case 'create': {
      if (values.name === undefined || values.roles === undefined || rest.length > 0) return usageError('create takes --name NAME --roles ROLE[,ROLE...]');
      const roles = values.roles
        .split(',')
        .map((r) => r.trim())
        .filter((r) => r !== '');
      if (roles.length === 0) return usageError('--roles needs at least one role');
      const name = values.name;
      const token = generateToken();
      const principal = await withStore(async (store) => {
        if ((await store.principals.findByName(name)) !== undefined) {
          throw new MovingDataError('conflict', `a principal named ${JSON.stringify(name)} already exists (names of revoked principals stay taken)`, { retryable: false });
        }
        // Recorded first: a token the audit trail cannot record is not issued.
        await new AuditTrail(store.audit).tokenCreated({ principal: cliPrincipal(), name, roles });
        return store.principals.create({ name, roles, tokenHash: hashToken(token) });
      });
      if (values.json === true) {
        console.log(JSON.stringify({ ...row(principal), token }));
      } else {
        console.log(token);
        console.error(`token for ${principal.name} (roles: ${principal.roles.join(', ') || 'none'}); it is shown only this once`);
      }
      return 0;
    }
    case 'list': {
      if (rest.length > 0) return usageError('list takes no arguments');
      const principals = await withStore((store) => store.principals.list());
      if (values.json === true) {
        for (const principal of principals) console.log(JSON.stringify(row(principal)));
        return 0;
      }
      if (principals.length === 0) {
        console.log('no tokens');
        return 0;
      }
      const width = Math.max(4, ...principals.map((p) => p.name.length));
      console.log(`${'NAME'.padEnd(width)}  ${'CREATED'.padEnd(24)}  ${'LAST USED'.padEnd(24)}  ${'REVOKED'.padEnd(24)}  ROLES`);
      for (const p of principals) {
        const date = (d: Date | null) => (d === null ? '-' : d.toISOString()).padEnd(24);
        console.log(`${p.name.padEnd(width)}  ${date(p.createdAt)}  ${date(p.lastUsedAt)}  ${date(p.revokedAt)}  ${p.roles.join(',')}`);
      }
      return 0;
    }
    case 'revoke': {
      const [name, ...extra] = rest;
      if (name === undefined || extra.length > 0) return usageError('revoke takes one NAME');
      const principal = await withStore(async (store) => {
        const existing = await store.principals.findByName(name);
        if (existing === undefined) throw new MovingDataError('not_found', `no token named ${JSON.stringify(name)}`, { retryable: false });
        if (existing.revokedAt !== null) return existing;
        await new AuditTrail(store.audit).tokenRevoked({ principal: cliPrincipal(), name });
        return store.principals.revoke(name);
      });
      console.log(`revoked ${principal.name} at ${principal.revokedAt?.toISOString() ?? '?'}`);
      return 0;
    }
    default:
      return usageError(`unknown subcommand '${verb}'`);
  }
}
