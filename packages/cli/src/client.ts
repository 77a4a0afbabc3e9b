import { ApiError, ConnectionError } from './errors.js';

/**
 * The Portcullis HTTP API as the CLI uses it: at a gateway (which passes `/auth/v1` and `/api/v1` to auth)
 * or at auth itself, the paths are the same. A PAT is exchanged for a session at `POST /auth/v1/token`
 * (`pat=`, as the Appcircle CLI does) once per command; management calls carry that session.
 */

/** An API token as the management API shows it (the key only on create and rotate). */
export interface ApiToken {
  id: string;
  kind: string;
  name: string;
  description: string;
  enabled: boolean;
  expires: string | null;
  permissions: string[];
  created_at: string;
  last_used_at: string | null;
  retired: boolean;
  key?: string;
  [field: string]: unknown;
}

export interface User {
  id: string;
  email: string;
  role: string;
  organization: string;
}

const TIMEOUT_MS = 30_000;

export class PortcullisClient {
  private session: string | undefined;

  constructor(
    readonly baseUrl: string,
    private readonly credentials: { pat: string } | { session: string },
    private readonly fetchImpl: typeof fetch = fetch,
  ) {
    if ('session' in credentials) this.session = credentials.session;
  }

  /** `grant_type=password`: a session for email and password (what `login` starts from). */
  static async passwordSession(baseUrl: string, email: string, password: string, fetchImpl: typeof fetch = fetch): Promise<string> {
    return (await tokenRequest(baseUrl, { grant_type: 'password', username: email, password }, fetchImpl)).access_token;
  }

  /** The session this client calls with, exchanging the PAT the first time. */
  async sessionToken(): Promise<string> {
    if (this.session === undefined) {
      const { pat } = this.credentials as { pat: string };
      this.session = (await tokenRequest(this.baseUrl, { pat }, this.fetchImpl)).access_token;
    }
    return this.session;
  }

  me(): Promise<User> {
    return this.call<User>('GET', '/api/v1/users/me');
  }

  listTokens(all: boolean): Promise<ApiToken[]> {
    return this.call<ApiToken[]>('GET', all ? '/api/v1/api_tokens/all' : '/api/v1/api_tokens');
  }

  getToken(id: string): Promise<ApiToken> {
    return this.call<ApiToken>('GET', `/api/v1/api_tokens/${encodeURIComponent(id)}`);
  }

  createToken(fields: Record<string, unknown>): Promise<ApiToken> {
    return this.call<ApiToken>('POST', '/api/v1/api_tokens', fields);
  }

  updateToken(id: string, fields: Record<string, unknown>): Promise<ApiToken> {
    return this.call<ApiToken>('PATCH', `/api/v1/api_tokens/${encodeURIComponent(id)}`, fields);
  }

  async deleteToken(id: string): Promise<void> {
    await this.call<undefined>('DELETE', `/api/v1/api_tokens/${encodeURIComponent(id)}`);
  }

  /** RFC 7009 on a PAT: it is retired. */
  async revoke(token: string): Promise<void> {
    await send(this.fetchImpl, `${this.baseUrl}/auth/v1/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({ token }).toString(),
    });
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { authorization: `Bearer ${await this.sessionToken()}`, accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const init: RequestInit = { method, headers };
    if (body !== undefined) init.body = JSON.stringify(body);
    return (await send(this.fetchImpl, `${this.baseUrl}${path}`, init)) as T;
  }
}

async function tokenRequest(baseUrl: string, fields: Record<string, string>, fetchImpl: typeof fetch): Promise<{ access_token: string }> {
  const answer = await send(fetchImpl, `${baseUrl}/auth/v1/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams(fields).toString(),
  });
  const token = (answer as { access_token?: unknown } | undefined)?.access_token;
  if (typeof token !== 'string') throw new ConnectionError(`${baseUrl} answered the token request without an access_token: is it Portcullis?`);
  return { access_token: token };
}

/** The parsed JSON answer (undefined for 204), or the error it carries. */
async function send(fetchImpl: typeof fetch, url: string, init: RequestInit): Promise<unknown> {
  let res: Response;
  try {
    res = await fetchImpl(url, { ...init, redirect: 'error', signal: AbortSignal.timeout(TIMEOUT_MS) });
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    const why = cause?.code ?? cause?.message ?? (error as Error).message;
    throw new ConnectionError(`cannot reach ${new URL(url).origin}: ${why}`);
  }
  if (res.status === 204) return undefined;
  const text = await res.text();
  let body: unknown;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    throw new ConnectionError(`${new URL(url).origin} answered ${res.status} with a body that is not JSON: is it Portcullis?`);
  }
  if (res.ok) return body;
  const problem = (body ?? {}) as { code?: unknown; message?: unknown; error?: unknown; error_description?: unknown; requestId?: unknown; details?: unknown };
  const code = typeof problem.code === 'string' ? problem.code : typeof problem.error === 'string' ? problem.error : `http_${res.status}`;
  const message =
    typeof problem.message === 'string' ? problem.message : typeof problem.error_description === 'string' ? problem.error_description : res.statusText;
  const requestId = typeof problem.requestId === 'string' ? problem.requestId : (res.headers.get('x-request-id') ?? undefined);
  const details = Array.isArray(problem.details)
    ? (problem.details as { path?: unknown; message?: unknown }[]).map((d) => `${typeof d.path === 'string' ? d.path : ''}: ${typeof d.message === 'string' ? d.message : ''}`)
    : [];
  throw new ApiError(res.status, code, message, requestId, details);
}
