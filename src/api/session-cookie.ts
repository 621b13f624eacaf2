/**
 * The dashboard's session: an API token exchanged once (POST /session, or demo mode's `/?token=`
 * link) for a cookie the browser sends by itself, which is what authenticates an EventSource
 * (GET /stream/live) and a download link, neither of which can send an Authorization header.
 *
 * The cookie carries the token itself, HttpOnly (no script reads it), SameSite=Strict (no other
 * site's page sends it) and Path=/, with no expiry (it ends with the browser, or DELETE /session).
 * It holds nothing the server must remember: every request looks the token up like a bearer
 * token, so revoking the token ends every session that uses it at once, and any API process
 * (several share one PostgreSQL) accepts it.
 *
 * Because a browser sends the cookie with every request to this origin, a state-changing request
 * authenticated by it must also carry `x-csrf-token`: an HMAC of the token, handed to the page by
 * POST /session and GET /me. A page of another origin can read neither the cookie nor those
 * answers, so it cannot forge the header. Requests with `Authorization: Bearer` are not affected.
 */
import { createHmac } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { constantTimeEqual } from '../access/tokens.ts';

export const SESSION_COOKIE = 'movingdata_session';
export const CSRF_HEADER = 'x-csrf-token';

/** Methods that change nothing, so need no CSRF token. */
export const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS']);

const CSRF_CONTEXT = 'movingdata csrf v1';

/** The session cookie's value in a `Cookie` header, if there is one. */
export function sessionToken(cookieHeader: string | undefined): string | undefined {
  if (cookieHeader === undefined) return undefined;
  for (const pair of cookieHeader.split(';')) {
    const eq = pair.indexOf('=');
    if (eq < 0 || pair.slice(0, eq).trim() !== SESSION_COOKIE) continue;
    const value = pair.slice(eq + 1).trim();
    return value === '' ? undefined : value;
  }
  return undefined;
}

/** Secure only where the browser came over HTTPS (a demo on http://127.0.0.1 must still work). */
function attributes(request: FastifyRequest): string {
  return `Path=/; HttpOnly; SameSite=Strict${request.protocol === 'https' ? '; Secure' : ''}`;
}

/** `Set-Cookie` that starts a session holding `token` (a well-formed token: token68 characters, cookie-safe). */
export function sessionCookie(request: FastifyRequest, token: string): string {
  return `${SESSION_COOKIE}=${token}; ${attributes(request)}`;
}

/** `Set-Cookie` that ends the session. */
export function clearedSessionCookie(request: FastifyRequest): string {
  return `${SESSION_COOKIE}=; ${attributes(request)}; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT`;
}

/** The CSRF token of a session: derived from its token, so nothing needs to be stored. */
export function csrfToken(token: string): string {
  return createHmac('sha256', token).update(CSRF_CONTEXT).digest('base64url');
}

/** Whether `presented` (the `x-csrf-token` header) is the session's CSRF token. */
export function csrfMatches(token: string, presented: string | string[] | undefined): boolean {
  return typeof presented === 'string' && presented !== '' && constantTimeEqual(presented, csrfToken(token));
}

/** A URL with the value of every `token` query parameter replaced, however its name is encoded, for the request log. */
export function redactTokenParam(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const hash = url.indexOf('#', q);
  const query = url.slice(q + 1, hash < 0 ? undefined : hash);
  const parts = query.split('&').map((part) => {
    const eq = part.indexOf('=');
    const name = eq < 0 ? part : part.slice(0, eq);
    let decoded = name;
    try {
      decoded = decodeURIComponent(name.replaceAll('+', ' '));
    } catch {
      // Not valid percent-encoding: compared as it came.
    }
    return decoded.trim().toLowerCase() === 'token' ? `${name}=[redacted]` : part;
  });
  return `${url.slice(0, q)}?${parts.join('&')}`;
}
