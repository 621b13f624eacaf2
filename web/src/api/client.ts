/**
 * The dashboard's one way to the control plane: typed calls over fetch, same origin, with the
 * session cookie (sent by the browser) and, on every state-changing call, the session's CSRF
 * token as `x-csrf-token`. Errors come back as `ApiError` with the API's stable code
 * (`unauthenticated`, `forbidden`, `csrf_mismatch`, ...), or `network` when nothing answered.
 */
import type { FileDetail, InventoryPage, InventoryQuery, OperationResult, UploadResult } from './inventory-types.ts';
import type { AlertPage, AlertState, Alert, ApiErrorBody, ConsistencyStatus, Health, InventorySummary, Me, Session, SessionState, StreamingMetrics } from './types.ts';

/** A file key as path segments, each percent-encoded (its slashes stay slashes). */
export function keyPath(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/');
}

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly requestId: string | undefined;

  constructor(status: number, code: string, message: string, requestId?: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.requestId = requestId;
  }
}

export interface ApiClientOptions {
  /** Prefix of every path (default: the page's own origin). */
  readonly baseUrl?: string;
  readonly fetch?: typeof fetch;
}

export type Query = Readonly<Record<string, string | number | boolean | undefined>>;

function isErrorBody(value: unknown): value is ApiErrorBody {
  const error = (value as { error?: unknown } | null)?.error as { code?: unknown; message?: unknown } | undefined;
  return typeof error === 'object' && error !== null && typeof error.code === 'string' && typeof error.message === 'string';
}

export class ApiClient {
  readonly #baseUrl: string;
  readonly #fetch: typeof fetch;
  #csrfToken: string | null = null;

  constructor(options: ApiClientOptions = {}) {
    this.#baseUrl = options.baseUrl ?? '';
    // Bound: a bare `fetch` called as a method of another object throws "Illegal invocation".
    this.#fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  }

  /** The session's CSRF token (from signIn or me), sent with every POST, PUT and DELETE. */
  set csrfToken(token: string | null) {
    this.#csrfToken = token;
  }

  get csrfToken(): string | null {
    return this.#csrfToken;
  }

  /** A same-origin URL the browser can open itself (the live feed, a download), cookie included. */
  url(path: string, query: Query = {}): string {
    const params = Object.entries(query).filter((e): e is [string, string | number | boolean] => e[1] !== undefined);
    const search = new URLSearchParams(params.map(([k, v]) => [k, String(v)])).toString();
    return `${this.#baseUrl}${path}${search === '' ? '' : `?${search}`}`;
  }

  async #call<T>(method: string, path: string, options: { readonly query?: Query; readonly body?: unknown; readonly accept?: readonly number[] } = {}): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    if (method !== 'GET' && method !== 'HEAD' && this.#csrfToken !== null) headers['x-csrf-token'] = this.#csrfToken;
    let response: Response;
    try {
      response = await this.#fetch(this.url(path, options.query), {
        method,
        headers,
        credentials: 'same-origin',
        ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
      });
    } catch (err) {
      throw new ApiError(0, 'network', `the control plane did not answer (${err instanceof Error ? err.message : String(err)})`);
    }
    const text = await response.text();
    let body: unknown = undefined;
    try {
      body = text === '' ? undefined : JSON.parse(text);
    } catch {
      // Not JSON: reported below with the status.
    }
    if (response.ok || options.accept?.includes(response.status) === true) return body as T;
    if (isErrorBody(body)) throw new ApiError(response.status, body.error.code, body.error.message, body.error.request_id);
    throw new ApiError(response.status, 'unexpected', `${method} ${path} answered ${response.status}`);
  }

  /**
   * Any call of the API, typed by the caller (the operations pages' calls: ./ops.ts), with the
   * same CSRF header, errors and `accept` list as the methods below.
   */
  request<T>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, options: { readonly query?: Query; readonly body?: unknown; readonly accept?: readonly number[] } = {}): Promise<T> {
    return this.#call<T>(method, path, options);
  }

  /** Every dependency's status; a 503 (metadata store down) is an answer too. */
  health(): Promise<Health> {
    return this.#call('GET', '/health', { accept: [503] });
  }

  /** Whether this browser holds a live session (never a 401: a signed-out visit is no error); keeps its CSRF token. */
  async session(): Promise<SessionState> {
    const state = await this.#call<SessionState>('GET', '/session');
    this.#csrfToken = state.signed_in ? state.csrf_token : null;
    return state;
  }

  me(): Promise<Me> {
    return this.#call('GET', '/me');
  }

  /** Exchange an API token for the session cookie; keeps the session's CSRF token. */
  async signIn(token: string): Promise<Session> {
    const session = await this.#call<Session>('POST', '/session', { body: { token } });
    this.#csrfToken = session.csrf_token;
    return session;
  }

  async signOut(): Promise<void> {
    await this.#call('DELETE', '/session');
    this.#csrfToken = null;
  }

  inventory(): Promise<InventorySummary> {
    return this.#call('GET', '/inventory');
  }

  /** GET /files: a page of the inventory (sort, filters, search; `cursor` from the previous page). */
  files(query: InventoryQuery = {}): Promise<InventoryPage> {
    return this.#call('GET', '/files', { query: { ...query } });
  }

  /** GET /inventory/files/{location}/{key}: one file in detail. */
  fileDetail(location: string, key: string): Promise<FileDetail> {
    return this.#call('GET', `/inventory/files/${encodeURIComponent(location)}/${keyPath(key)}`);
  }

  /** Where the browser downloads a copy from (a plain link: the session cookie authenticates it). */
  downloadUrl(location: string, key: string): string {
    return this.url(`/files/${encodeURIComponent(location)}/${keyPath(key)}`);
  }

  replicate(key: string, to: readonly string[]): Promise<OperationResult> {
    return this.#call('POST', `/files/${keyPath(key)}/replicate`, { body: { to: [...to], wait: true } });
  }

  move(key: string, from: string, to: string): Promise<OperationResult> {
    return this.#call('POST', `/files/${keyPath(key)}/move`, { body: { from, to, wait: true } });
  }

  /** DELETE /files/{location}/{key}: this location's copy. */
  async deleteCopy(location: string, key: string): Promise<void> {
    await this.#call('DELETE', `/files/${encodeURIComponent(location)}/${keyPath(key)}`);
  }

  /**
   * PUT /files/{location}/{key} with the File itself as the body, through XMLHttpRequest: its
   * upload reports progress, and Chromium streams a fetch body only over HTTP/2.
   */
  upload(location: string, key: string, file: Blob, onProgress: (sent: number, total: number) => void, signal?: AbortSignal): Promise<UploadResult> {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open('PUT', this.url(`/files/${encodeURIComponent(location)}/${keyPath(key)}`));
      xhr.withCredentials = true;
      xhr.setRequestHeader('accept', 'application/json');
      xhr.setRequestHeader('content-type', file.type === '' ? 'application/octet-stream' : file.type);
      if (this.#csrfToken !== null) xhr.setRequestHeader('x-csrf-token', this.#csrfToken);
      xhr.upload.onprogress = (event) => onProgress(event.loaded, event.lengthComputable ? event.total : file.size);
      xhr.onerror = () => reject(new ApiError(0, 'network', 'the control plane did not answer'));
      xhr.onabort = () => reject(new ApiError(0, 'aborted', 'the upload was cancelled'));
      xhr.onload = () => {
        let body: unknown;
        try {
          body = JSON.parse(xhr.responseText);
        } catch {
          body = undefined;
        }
        if (xhr.status >= 200 && xhr.status < 300) resolve(body as UploadResult);
        else if (isErrorBody(body)) reject(new ApiError(xhr.status, body.error.code, body.error.message, body.error.request_id));
        else reject(new ApiError(xhr.status, 'unexpected', `PUT answered ${xhr.status}`));
      };
      signal?.addEventListener('abort', () => xhr.abort(), { once: true });
      xhr.send(file);
    });
  }

  consistencyStatus(): Promise<ConsistencyStatus> {
    return this.#call('GET', '/consistency/status');
  }

  alerts(query: { readonly state?: AlertState; readonly kind?: string; readonly limit?: number; readonly cursor?: string } = {}): Promise<AlertPage> {
    return this.#call('GET', '/alerts', { query });
  }

  acknowledgeAlert(id: string): Promise<Alert> {
    return this.#call('POST', `/alerts/${encodeURIComponent(id)}/ack`);
  }

  streamingMetrics(): Promise<StreamingMetrics> {
    return this.#call('GET', '/streaming/metrics');
  }

  /** The live feed (server-sent events), authenticated by the session cookie. */
  liveUrl(): string {
    return this.url('/stream/live');
  }
}
