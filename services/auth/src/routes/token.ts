import { HttpError } from '@portcullis/errors';
import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import type { AppDeps } from '../deps.js';
import { APP_NAME_RE, type ExchangeRequest, type ExchangeSuccess } from '../domain/exchange.js';
import type { Result } from '../domain/result.js';
import { parseBody } from '../http/body.js';
import { oauthErrors } from '../http/errors.js';

export const GRANT_TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const TOKEN_TYPE_ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';
export const EXPIRY_WARNING_HEADER = 'Portcullis-Token-Expiration';

const field = z.string().max(4096).optional();
// Every field optional here: which ones are required depends on the grant, checked below with RFC 6749 codes.
const TokenRequest = z.object({
  grant_type: field,
  pat: field,
  subject_token: field,
  subject_token_type: field,
  scope: z.string().max(2048).optional(),
  audience: z.string().max(512).optional(),
  username: z.string().max(320).optional(),
  password: z.string().max(1024).optional(),
  app: z.string().optional(),
});

function parseRequest(input: unknown): z.output<typeof TokenRequest> {
  const result = TokenRequest.safeParse(input);
  if (!result.success) {
    const names = [...new Set(result.error.issues.map((i) => i.path.map(String).join('.')))];
    throw new HttpError('invalid_request', `Malformed parameters: ${names.join(', ')} (each must appear once, as a string)`);
  }
  return result.data;
}

function appName(header: string | string[] | undefined, fromBody: string | undefined): string | undefined {
  const name = fromBody ?? (typeof header === 'string' ? header : undefined);
  if (name === undefined) return undefined;
  if (!APP_NAME_RE.test(name)) throw new HttpError('invalid_request', 'app must be 1-64 letters, digits, spaces or ._:/-');
  return name;
}

/** What a token request becomes once its body is parsed: who asked, and the parameters. */
export interface TokenRequestInput {
  /** The parsed body (a form or a JSON object); checked here. */
  body: unknown;
  /** The client address, as `trust proxy` reads it: the failure limits are kept per address. */
  ip: string;
  /** The `X-App-Name` header, used when the body names no `app`. */
  appHeader: string | string[] | undefined;
}

/** A successful answer: the headers to add, and the JSON body. Failures are thrown as HttpError. */
export interface TokenAnswer {
  headers: Record<string, string>;
  body: {
    access_token: string;
    token_type: 'Bearer';
    expires_in: number;
    issued_token_type: typeof TOKEN_TYPE_ACCESS_TOKEN;
    scope: string;
  };
}

export type TokenEndpoint = (input: TokenRequestInput) => Promise<TokenAnswer>;

/**
 * `POST /auth/v1/token`, independent of how the request arrived: the Appcircle `pat=` shape, RFC 8693
 * token exchange, and the password grant. Used by the express route below and by the fast path
 * (http/token-fast-path.ts), so both answer alike.
 */
export function tokenEndpoint(deps: AppDeps): TokenEndpoint {
  async function limited(kind: 'ip' | 'token', key: string): Promise<void> {
    const wait = await deps.limiter.retryAfter(kind, key);
    if (wait > 0) throw new HttpError('rate_limited', 'Too many failed attempts; try again later', { headers: { 'Retry-After': String(wait) } });
  }

  return async ({ body: input, ip, appHeader }) => {
    const body = parseRequest(input);
    await limited('ip', ip);
    const request: ExchangeRequest = {
      ip,
      ...(body.scope !== undefined ? { scope: body.scope } : {}),
      ...(body.audience !== undefined ? { audience: body.audience } : {}),
    };
    const app = appName(appHeader, body.app);
    if (app !== undefined) request.app = app;

    let result: Result<ExchangeSuccess>;
    let grant: 'pat' | 'token_exchange' | 'password' = 'pat';
    if (body.grant_type === undefined && body.pat !== undefined) {
      result = await deps.exchange.exchangePat(body.pat, request);
    } else if (body.grant_type === GRANT_TOKEN_EXCHANGE) {
      if (!body.subject_token) throw new HttpError('invalid_request', 'subject_token is required');
      if (body.subject_token_type !== TOKEN_TYPE_ACCESS_TOKEN) {
        throw new HttpError('invalid_request', `subject_token_type must be ${TOKEN_TYPE_ACCESS_TOKEN}`);
      }
      grant = 'token_exchange';
      result = await deps.exchange.exchangePat(body.subject_token, request);
    } else if (body.grant_type === 'password') {
      grant = 'password';
      if (!body.username || !body.password) throw new HttpError('invalid_request', 'username and password are required');
      result = await deps.exchange.login(body.username, body.password, request);
    } else if (body.grant_type !== undefined) {
      throw new HttpError('unsupported_grant_type', `grant_type ${JSON.stringify(body.grant_type.slice(0, 100))} is not supported`);
    } else {
      throw new HttpError('invalid_request', 'Send pat=<token>, or a grant_type');
    }

    deps.metrics.exchanges.inc({ grant, outcome: result.ok ? 'issued' : result.error.code });
    if (!result.ok) {
      if (result.error.code === 'invalid_grant') await deps.limiter.recordFailure('ip', ip);
      const retry = result.error.retryAfter;
      throw new HttpError(result.error.code, result.error.message, retry ? { headers: { 'Retry-After': String(retry) } } : {});
    }
    const { session, scope, tokenExpiresAt } = result.value;
    const headers: Record<string, string> = { 'Cache-Control': 'no-store', Pragma: 'no-cache' };
    if (tokenExpiresAt && tokenExpiresAt.getTime() - deps.clock() <= deps.settings.expiryWarningMs) {
      headers[EXPIRY_WARNING_HEADER] = tokenExpiresAt.toISOString();
    }
    return {
      headers,
      body: {
        access_token: session.accessToken,
        token_type: 'Bearer',
        expires_in: session.expiresIn,
        issued_token_type: TOKEN_TYPE_ACCESS_TOKEN,
        scope,
      },
    };
  };
}

/**
 * The token endpoint on express: what the fast path declines (another charset, a compressed or chunked
 * body, a trailing slash...) arrives here, and method-not-allowed reads its methods from this route.
 */
export function tokenRoutes(endpoint: TokenEndpoint): Router {
  const router = Router();
  router.post('/auth/v1/token', oauthErrors, ...parseBody(true), async (req: Request, res: Response) => {
    const answer = await endpoint({ body: req.body, ip: req.ip ?? 'unknown', appHeader: req.headers['x-app-name'] });
    res.set(answer.headers);
    res.json(answer.body);
  });
  return router;
}
