/**
 * `movingdata tokens`: issue, list and revoke API tokens, directly in the metadata store (the
 * way to get the first admin token outside demo mode). Changes are recorded in the audit
 * trail as principal `cli:<user>`.
 */
import { parseArgs } from 'node:util';
import { generateToken, hashToken } from '../../access/tokens.ts';
import { AuditTrail } from '../../audit/audit-trail.ts';
import { loadConfig } from '../../config/config.ts';
import { ERROR_CODES, MovingDataError, type ErrorCode } from '../../errors.ts';
import { openMetadataStore, type MetadataStore, type Principal } from '../../metadata/index.ts';
import { cliPrincipal } from '../cli-principal.ts';
import { runningServer } from '../running-server.ts';
import { readDemoToken } from '../../demo/admin-token.ts';

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
MOVINGDATA_DATA_DIR). The embedded store admits one process: while 'movingdata serve' runs over
it, these commands go through that server's API (POST/GET/DELETE /tokens) with the admin token
in MOVINGDATA_TOKEN, or, in demo mode, the one the server keeps in <data dir>/demo-admin-token.`;

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

interface TokenRow {
  readonly name: string;
  readonly roles: readonly string[];
  readonly created_at: string;
  readonly last_used_at: string | null;
  readonly revoked_at: string | null;
}

/** What the verbs need, either straight from the metadata store or through a running server. */
interface TokenAdmin {
  create(name: string, roles: readonly string[]): Promise<{ readonly row: TokenRow; readonly token: string }>;
  list(): Promise<readonly TokenRow[]>;
  revoke(name: string): Promise<TokenRow>;
}

const directAdmin: TokenAdmin = {
  async create(name, roles) {
    const token = generateToken();
    const principal = await withStore(async (store) => {
      if ((await store.principals.findByName(name)) !== undefined) {
        throw new MovingDataError('conflict', `a principal named ${JSON.stringify(name)} already exists (names of revoked principals stay taken)`, { retryable: false });
      }
      // Recorded first: a token the audit trail cannot record is not issued.
      await new AuditTrail(store.audit).tokenCreated({ principal: cliPrincipal(), name, roles });
      return store.principals.create({ name, roles, tokenHash: hashToken(token) });
    });
    return { row: row(principal), token };
  },
  async list() {
    return (await withStore((store) => store.principals.list())).map(row);
  },
  async revoke(name) {
    const principal = await withStore(async (store) => {
      const existing = await store.principals.findByName(name);
      if (existing === undefined) throw new MovingDataError('not_found', `no token named ${JSON.stringify(name)}`, { retryable: false });
      if (existing.revokedAt !== null) return existing;
      await new AuditTrail(store.audit).tokenRevoked({ principal: cliPrincipal(), name });
      return store.principals.revoke(name);
    });
    return row(principal);
  },
};

/** The same verbs through a server's API, as the holder of `token`. */
function serverAdmin(url: string, token: string): TokenAdmin {
  const call = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    let response: Response;
    try {
      response = await fetch(`${url}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (err) {
      throw new MovingDataError('unavailable', `cannot reach the running server at ${url}: ${err instanceof Error ? err.message : String(err)}`, { retryable: true });
    }
    const answer = (await response.json().catch(() => ({}))) as { error?: { code?: string; message?: string } };
    if (!response.ok) {
      const code = answer.error?.code ?? 'internal';
      const known: ErrorCode = (ERROR_CODES as readonly string[]).includes(code) ? (code as ErrorCode) : 'internal';
      throw new MovingDataError(known, `the server at ${url} answered ${response.status}: ${answer.error?.message ?? response.statusText}`, { retryable: false });
    }
    return answer as T;
  };
  return {
    async create(name, roles) {
      const created = await call<TokenRow & { token: string }>('POST', '/tokens', { name, roles });
      const { token: issued, ...rest } = created;
      return { row: { ...rest, last_used_at: rest.last_used_at ?? null, revoked_at: rest.revoked_at ?? null }, token: issued };
    },
    async list() {
      return (await call<{ tokens: TokenRow[] }>('GET', '/tokens')).tokens;
    },
    async revoke(name) {
      return call<TokenRow>('DELETE', `/tokens/${encodeURIComponent(name)}`);
    },
  };
}

/** Straight to the store, unless a running server holds the embedded one. */
async function tokenAdmin(): Promise<TokenAdmin> {
  const config = loadConfig(process.env);
  if (config.metadata.kind !== 'pglite') return directAdmin;
  const server = await runningServer(config.dataDir);
  if (server === undefined) return directAdmin;
  const token = process.env['MOVINGDATA_TOKEN'] ?? (await readDemoToken(config.dataDir));
  if (token === undefined || token === '') {
    throw new MovingDataError(
      'unavailable',
      `a server (pid ${server.pid}, ${server.url}) holds the embedded metadata store; set MOVINGDATA_TOKEN to an admin token to go through its API, or stop it first`,
      { retryable: false },
    );
  }
  console.error(`movingdata tokens: through the running server at ${server.url} (it holds the embedded metadata store)`);
  return serverAdmin(server.url, token);
}

function row(principal: Principal): TokenRow {
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
      const { row: created, token } = await (await tokenAdmin()).create(values.name, roles);
      if (values.json === true) {
        console.log(JSON.stringify({ ...created, token }));
      } else {
        console.log(token);
        console.error(`token for ${created.name} (roles: ${created.roles.join(', ') || 'none'}); it is shown only this once`);
      }
      return 0;
    }
    case 'list': {
      if (rest.length > 0) return usageError('list takes no arguments');
      const principals = await (await tokenAdmin()).list();
      if (values.json === true) {
        for (const principal of principals) console.log(JSON.stringify(principal));
        return 0;
      }
      if (principals.length === 0) {
        console.log('no tokens');
        return 0;
      }
      const width = Math.max(4, ...principals.map((p) => p.name.length));
      console.log(`${'NAME'.padEnd(width)}  ${'CREATED'.padEnd(24)}  ${'LAST USED'.padEnd(24)}  ${'REVOKED'.padEnd(24)}  ROLES`);
      for (const p of principals) {
        const date = (d: string | null) => (d ?? '-').padEnd(24);
        console.log(`${p.name.padEnd(width)}  ${date(p.created_at)}  ${date(p.last_used_at)}  ${date(p.revoked_at)}  ${p.roles.join(',')}`);
      }
      return 0;
    }
    case 'revoke': {
      const [name, ...extra] = rest;
      if (name === undefined || extra.length > 0) return usageError('revoke takes one NAME');
      const revoked = await (await tokenAdmin()).revoke(name);
      console.log(`revoked ${revoked.name} at ${revoked.revoked_at ?? '?'}`);
      return 0;
    }
    default:
      return usageError(`unknown subcommand '${verb}'`);
  }
}
