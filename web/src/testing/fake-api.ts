/**
 * For component tests: an ApiClient whose fetch answers from routes ("GET /jobs" → a handler)
 * and records every request (method, path, query, body, headers), so a test sees what a page
 * asked, with which CSRF header, and the page goes through the real client code.
 */
import { ApiClient } from '../api/client.ts';
import type { Me } from '../api/types.ts';

export interface Asked {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly body: unknown;
  readonly headers: Readonly<Record<string, string>>;
}

/** A body as is (status 200), or `{ status, body }`. */
export type Answer = unknown;
export type Route = (asked: Asked) => unknown;

function isAnswer(value: unknown): value is { status?: number; body: unknown } {
  return typeof value === 'object' && value !== null && 'body' in value && Object.keys(value).every((k) => k === 'status' || k === 'body');
}

export class FakeApi {
  readonly asked: Asked[] = [];
  readonly routes = new Map<string, Route>();
  readonly client: ApiClient;

  constructor(routes: Readonly<Record<string, Route>> = {}) {
    for (const [k, v] of Object.entries(routes)) this.routes.set(k, v);
    this.client = new ApiClient({ baseUrl: 'http://dashboard.test', fetch: (input, init) => this.#answer(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url, init) });
    this.client.csrfToken = 'csrf-token-of-the-test';
  }

  on(route: string, handler: Route): this {
    this.routes.set(route, handler);
    return this;
  }

  /** Requests to `route` ("POST /jobs/7/retry"), in order. */
  calls(route: string): Asked[] {
    return this.asked.filter((a) => `${a.method} ${a.path}` === route);
  }

  async #answer(url: string, init: RequestInit | undefined): Promise<Response> {
    const parsed = new URL(url);
    const method = init?.method ?? 'GET';
    const headers = Object.fromEntries(Object.entries((init?.headers ?? {}) as Record<string, string>).map(([k, v]) => [k.toLowerCase(), v]));
    const asked: Asked = { method, path: parsed.pathname, query: parsed.searchParams, body: typeof init?.body === 'string' ? JSON.parse(init.body) : undefined, headers };
    this.asked.push(asked);
    const route = this.routes.get(`${method} ${parsed.pathname}`);
    if (route === undefined) return Response.json({ error: { code: 'not_found', message: `no route for ${method} ${parsed.pathname} in this test`, request_id: 't' } }, { status: 404 });
    const answer = await route(asked);
    const { status, body } = isAnswer(answer) ? { status: answer.status ?? 200, body: answer.body } : { status: 200, body: answer };
    return Response.json(body, { status });
  }
}

export const ADMIN: Me = {
  name: 'admin',
  roles: ['admin'],
  authenticated_by: 'cookie',
  csrf_token: 'csrf-token-of-the-test',
  locations: [{ name: 'aws', provider: 'local', read: true, write: true }],
  can: { view_operations: true, manage_tokens: true, seed: true, audit: true },
};

export const ANALYST: Me = { ...ADMIN, name: 'ana', roles: ['analytics'], can: { view_operations: false, manage_tokens: false, seed: false, audit: false } };

export function apiError(status: number, code: string, message: string): { status: number; body: unknown } {
  return { status, body: { error: { code, message, request_id: 'req-1' } } };
}
