/**
 * The API's contract with its OpenAPI document, held on every route at once (schemathesis checks
 * it: test/api/contract.test.ts):
 *
 * - Bodies are validated as sent: no type coercion (`{"name": false}` is not the name "false")
 *   and no silent removal of unknown properties (they are refused where a schema says
 *   `additionalProperties: false`). Query strings and path parameters are text on the wire, so
 *   they keep Fastify's coercion (`?limit=5` is the integer 5). Fastify's own validator compiler
 *   (@fastify/ajv-compiler) builds both; only its options differ per part of the request.
 * - Every route declares the error answers it can give, in the one error shape (errors.ts), so
 *   a client generated from the document knows them.
 * - A known path asked with a method it does not serve is 405 with `Allow`, not 404.
 * - A body whose schema requires nothing may be left out (the seed's `curl -X POST .../seed`
 *   sends none, with or without a JSON content type): it is then `{}`, and its defaults apply.
 */
import AjvCompiler from '@fastify/ajv-compiler';
import type { FastifyInstance, FastifyServerOptions, RouteOptions } from 'fastify';
import { Type } from 'typebox';

export const ErrorSchema = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: 'stable, machine-readable (not_found, forbidden, invalid_argument, ...)' }),
      message: Type.String(),
      request_id: Type.String(),
      details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    }),
  },
  { description: 'an error: `{"error": {"code", "message", "request_id", "details"?}}`' },
);

/** The error answers every authenticated route may give, with what each means here. */
const ERROR_ANSWERS: Readonly<Record<number, string>> = {
  400: 'bad input (invalid_argument, invalid_key, invalid_cursor)',
  401: 'no or unknown bearer token or session cookie (unauthenticated)',
  403: 'the token has no role for this (forbidden), or a signed-in browser sent no matching x-csrf-token (csrf_mismatch)',
  404: 'no such object, file, job or location (not_found)',
  409: 'a conflict with the current state (conflict)',
  413: 'too large (too_large)',
  416: 'range not satisfiable',
  422: 'a stored object is not the one recorded, or does not decrypt (integrity_mismatch, decryption_failed)',
  431: 'request headers (the URL included) are too large',
  503: 'a dependency is unavailable; retry (unavailable)',
};

/** Fastify's validator compilers: strict for bodies, coercing for the parts that are text on the wire. */
export function validatorCompilers(): NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']> {
  const factory = AjvCompiler();
  return {
    buildValidator(externalSchemas, options) {
      const text = factory(externalSchemas, options);
      // Fastify hands Ajv options here (not JTD's): the cast only spells that out.
      const ajvOptions = (options ?? {}) as { customOptions?: Record<string, unknown> };
      const body = factory(externalSchemas, { ...ajvOptions, customOptions: { ...ajvOptions.customOptions, coerceTypes: false, removeAdditional: false } });
      return (route) => (route.httpPart === 'body' ? body(route) : text(route));
    },
  };
}

/** Give every route its error answers in the document (before the OpenAPI plugin reads it). */
export function declareErrorAnswers(route: RouteOptions): void {
  if (route.schema?.hide === true) return;
  const schema = (route.schema ??= {});
  const response = (schema.response ??= {}) as Record<string, unknown>;
  // A route that declared no success answer (a streamed body) says what it answers with.
  if (!Object.keys(response).some((status) => status.startsWith('2'))) {
    const produces = (schema as { produces?: readonly string[] }).produces ?? ['application/json'];
    response['200'] = { description: 'OK', content: Object.fromEntries(produces.map((type) => [type, { schema: {} }])) };
  }
  for (const [status, description] of Object.entries(ERROR_ANSWERS)) {
    // Errors are JSON whatever the route's success answers are (a download's bytes, an export's lines).
    response[status] ??= { description, content: { 'application/json': { schema: ErrorSchema } } };
  }
}

/**
 * Paths the routes serve, as patterns, with their methods: what a 404 for a path that exists
 * under another method turns into a 405.
 */
export class RouteMethods {
  readonly #routes: Array<{ pattern: RegExp; methods: Set<string> }> = [];

  add(route: RouteOptions): void {
    const methods = (Array.isArray(route.method) ? route.method : [route.method]).map((m) => m.toUpperCase());
    const source = route.url
      .split('/')
      .map((segment) => (segment === '*' ? '.*' : segment.startsWith(':') ? '[^/]+' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
      .join('/');
    // A route may narrow the paths it serves beyond what its URL pattern says (config.pathPattern).
    const narrowed = (route.config)?.pathPattern;
    const pattern = new RegExp(narrowed ?? `^${source}$`);
    const existing = this.#routes.find((r) => r.pattern.source === pattern.source);
    if (existing) for (const m of methods) existing.methods.add(m);
    else this.#routes.push({ pattern, methods: new Set(methods) });
  }

  /** The methods served at `path`, or none. */
  allowed(path: string): string[] {
    const methods = new Set<string>();
    for (const route of this.#routes) if (route.pattern.test(path)) for (const m of route.methods) methods.add(m);
    return [...methods].sort();
  }
}

/** Operations (`METHOD /openapi/{path}`) whose body may be left out, for the document. */
export const OPTIONAL_BODIES = new Set<string>();

/** @fastify/swagger marks every body required; say so only where it is. */
export function markOptionalBodies(document: { paths?: Record<string, Record<string, { requestBody?: { required?: boolean } }>> }): void {
  for (const [path, operations] of Object.entries(document.paths ?? {})) {
    for (const [method, operation] of Object.entries(operations)) {
      if (operation.requestBody !== undefined && OPTIONAL_BODIES.has(`${method.toUpperCase()} ${path}`)) operation.requestBody.required = false;
    }
  }
}

export function registerContract(app: FastifyInstance, methods: RouteMethods): void {
  app.addHook('onRoute', (route) => {
    declareErrorAnswers(route);
    if (bodyIsOptional(route)) {
      route.preValidation = [...toArray(route.preValidation), emptyBodyIsEmptyObject];
      for (const method of Array.isArray(route.method) ? route.method : [route.method]) OPTIONAL_BODIES.add(`${method.toUpperCase()} ${route.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}')}`);
    }
    methods.add(route);
  });
  // Fastify's JSON parser (prototype-poisoning checks included) for every body but an empty
  // one, which becomes "no body": a route whose body requires nothing then takes `{}`, and a
  // route that needs one answers 400 `body must be object`, as for no content type at all.
  const json = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') {
      done(null, undefined);
      return;
    }
    void json(request, text, done);
  });
}

function bodyIsOptional(route: RouteOptions): boolean {
  const body = route.schema?.body as { type?: unknown; required?: readonly string[] } | undefined;
  return body !== undefined && body.type === 'object' && (body.required === undefined || body.required.length === 0);
}

function toArray<T>(value: T | readonly T[] | undefined): T[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? [...(value as readonly T[])] : [value as T];
}

async function emptyBodyIsEmptyObject(request: { body: unknown }): Promise<void> {
  if (request.body === undefined) request.body = {};
}
