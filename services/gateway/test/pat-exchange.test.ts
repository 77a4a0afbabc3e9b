import { generatePat } from '@portcullis/token';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { FAILURE } from '../src/failures.js';
import { PatExchanger } from '../src/pat-exchange.js';

/** The token endpoint's answers, as the auth service gives them; fetch is the seam (no network here). */
function exchanger(answer: () => Response, now = () => 1_000_000) {
  const requests: { url: string; body: string; headers: Record<string, string> }[] = [];
  const fetch = (async (url: string, init: RequestInit) => {
    requests.push({ url, body: init.body as string, headers: init.headers as Record<string, string> });
    return Promise.resolve(answer());
  }) as unknown as typeof globalThis.fetch;
  const pats = new PatExchanger({ authUrl: 'http://auth', fetch, now, refreshMarginMs: 30_000, maxEntries: 10, logger: pino({ level: 'silent' }) });
  return { pats, requests };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });

describe('PAT exchange', () => {
  it('posts pat=<PAT> as a form to /auth/v1/token with the request id and client address', async () => {
    const { pats, requests } = exchanger(() => json(200, { access_token: 'jwt', expires_in: 600 }));
    const pat = generatePat().key;
    expect(await pats.sessionFor(pat, { requestId: 'rid-1', clientIp: '10.0.0.9' })).toBe('jwt');
    expect(requests).toEqual([
      {
        url: 'http://auth/auth/v1/token',
        body: `pat=${pat}`,
        headers: expect.objectContaining({
          'content-type': 'application/x-www-form-urlencoded',
          'x-request-id': 'rid-1',
          'x-forwarded-for': '10.0.0.9',
        }),
      },
    ]);
  });

  it('keys its cache by a keyed hash, never the PAT itself', () => {
    const { pats } = exchanger(() => json(200, {}));
    const pat = generatePat().key;
    const key = pats.keyOf(pat);
    expect(key).not.toContain(pat);
    expect(key).toBe(pats.keyOf(pat));
    // Another process (another random key) derives another value: nothing to correlate or replay.
    expect(exchanger(() => json(200, {})).pats.keyOf(pat)).not.toBe(key);
  });

  it.each([
    [400, { error: 'invalid_grant' }, FAILURE.invalidPat],
    [401, { error: 'invalid_client' }, FAILURE.invalidPat],
    [403, { error: 'access_denied' }, FAILURE.patDenied],
    [500, { error: 'internal_error' }, FAILURE.authUnavailable],
    [200, { access_token: 42 }, FAILURE.authUnavailable],
  ])('maps a %i answer to a gateway failure', async (status, body, failure) => {
    const { pats } = exchanger(() => json(status, body));
    expect(await pats.sessionFor(generatePat().key, { requestId: 'r', clientIp: undefined })).toBe(failure);
  });

  it('passes the rate limit on with its Retry-After (429)', async () => {
    const { pats } = exchanger(() => json(429, { error: 'rate_limited', error_description: 'slow down' }, { 'retry-after': '7' }));
    expect(await pats.sessionFor(generatePat().key, { requestId: 'r', clientIp: undefined })).toEqual({
      code: 'rate_limited',
      message: 'slow down',
      retryAfterSec: 7,
    });
  });

  it('does not cache failures: the next request asks again', async () => {
    let status = 400;
    const { pats, requests } = exchanger(() => json(status, status === 200 ? { access_token: 'jwt', expires_in: 60 } : {}));
    const pat = generatePat().key;
    expect(await pats.sessionFor(pat, { requestId: 'r', clientIp: undefined })).toBe(FAILURE.invalidPat);
    status = 200;
    expect(await pats.sessionFor(pat, { requestId: 'r', clientIp: undefined })).toBe('jwt');
    // Cached now, synchronously.
    expect(pats.sessionFor(pat, { requestId: 'r', clientIp: undefined })).toBe('jwt');
    expect(requests).toHaveLength(2);
  });
});
