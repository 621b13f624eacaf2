import { describe, expect, it } from 'vitest';
import { ApiClient, ApiError } from './client.ts';

interface Sent {
  readonly url: string;
  readonly method: string;
  readonly headers: Record<string, string>;
  readonly body: string | undefined;
  readonly credentials: RequestCredentials | undefined;
}

/** A fetch that records each request and answers from `answer`. */
function fakeFetch(answer: (sent: Sent) => Response | Promise<Response>): { fetch: typeof fetch; sent: Sent[] } {
  const sent: Sent[] = [];
  const fn = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const request: Sent = {
      url: typeof input === 'string' ? input : input instanceof URL ? input.href : input.url,
      method: init?.method ?? 'GET',
      headers: { ...(init?.headers as Record<string, string>) },
      body: typeof init?.body === 'string' ? init.body : undefined,
      credentials: init?.credentials,
    };
    sent.push(request);
    return answer(request);
  };
  return { fetch: fn, sent };
}

const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

describe('the dashboard API client', () => {
  it('signs in with the token in the body, then sends the CSRF token with changes only, always with same-origin credentials', async () => {
    const { fetch, sent } = fakeFetch((r) => (r.url === '/session' ? json(200, { name: 'admin', roles: ['admin'], csrf_token: 'csrf-1' }) : json(200, { alerts: [], next_cursor: null, id: '7' })));
    const client = new ApiClient({ fetch });
    await client.signIn('mdt_token');
    expect(sent[0]).toMatchObject({ url: '/session', method: 'POST', body: JSON.stringify({ token: 'mdt_token' }), credentials: 'same-origin' });
    expect(sent[0]?.headers['x-csrf-token']).toBeUndefined();
    expect(client.csrfToken).toBe('csrf-1');

    await client.alerts({ state: 'open', limit: 5, cursor: undefined });
    expect(sent[1]).toMatchObject({ url: '/alerts?state=open&limit=5', method: 'GET' });
    expect(sent[1]?.headers['x-csrf-token']).toBeUndefined();

    await client.acknowledgeAlert('7');
    expect(sent[2]).toMatchObject({ url: '/alerts/7/ack', method: 'POST', body: undefined });
    expect(sent[2]?.headers['x-csrf-token']).toBe('csrf-1');

    await client.signOut();
    expect(sent[3]).toMatchObject({ url: '/session', method: 'DELETE' });
    expect(sent[3]?.headers['x-csrf-token']).toBe('csrf-1');
    expect(client.csrfToken).toBeNull();
  });

  it("turns the API's error body into an ApiError with its stable code and request id", async () => {
    const { fetch } = fakeFetch(() => json(403, { error: { code: 'csrf_mismatch', message: 'no csrf', request_id: 'req-1' } }));
    const error = await new ApiClient({ fetch }).acknowledgeAlert('1').catch((err: unknown) => err);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 403, code: 'csrf_mismatch', message: 'no csrf', requestId: 'req-1' });
  });

  it('takes a 503 from /health as an answer (the metadata store is down), and any other non-JSON failure as unexpected', async () => {
    const down = { status: 'down', version: '0', uptime_s: 1, checked_at: '2026-01-01T00:00:00Z', dependencies: [], alerts: { open: 0, acknowledged: 0, by_kind: {} } };
    expect(await new ApiClient({ fetch: fakeFetch(() => json(503, down)).fetch }).health()).toEqual(down);
    const error = await new ApiClient({ fetch: fakeFetch(() => new Response('<html>bad gateway</html>', { status: 502 })).fetch })
      .me()
      .catch((err: unknown) => err);
    expect(error).toMatchObject({ status: 502, code: 'unexpected' });
  });

  it('reports a control plane that does not answer as a network error', async () => {
    const { fetch } = fakeFetch(() => Promise.reject(new TypeError('Failed to fetch')));
    const error = await new ApiClient({ fetch }).inventory().catch((err: unknown) => err);
    expect(error).toMatchObject({ status: 0, code: 'network' });
    expect((error as Error).message).toContain('Failed to fetch');
  });

  it('builds URLs under its base, encoding path segments and query values', async () => {
    const { fetch, sent } = fakeFetch(() => json(200, {}));
    const client = new ApiClient({ baseUrl: 'http://127.0.0.1:8001', fetch });
    await client.acknowledgeAlert('1/2');
    expect(sent[0]?.url).toBe('http://127.0.0.1:8001/alerts/1%2F2/ack');
    expect(client.url('/files', { prefix: 'a b&c', limit: 3, cursor: undefined })).toBe('http://127.0.0.1:8001/files?prefix=a+b%26c&limit=3');
    expect(client.liveUrl()).toBe('http://127.0.0.1:8001/stream/live');
  });
});
