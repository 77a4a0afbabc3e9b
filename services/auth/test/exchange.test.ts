import { createVerifier, parseJwks } from '@portcullis/jwt';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, type TestAuth, createPat, createTestAuth, exchange, login } from './harness.js';

describe.each(BACKENDS)('POST /auth/v1/token (%s)', (backend) => {
  let t: TestAuth;
  let admin: string;

  beforeAll(async () => {
    t = await createTestAuth(backend);
    admin = await login(t.app);
  });
  afterAll(() => t.close());

  async function verifyWithJwks(token: string) {
    const jwks = await request(t.app).get('/.well-known/jwks.json');
    const keys = parseJwks(jwks.body);
    return createVerifier({ issuer: 'http://auth.test', audience: 'portcullis', keyFor: (kid) => keys.get(kid) })(token);
  }

  it('exchanges pat=<PAT> (the Appcircle CLI shape) for a session JWT that verifies against the JWKS', async () => {
    const pat = await createPat(t.app, admin, { permissions: ['GetOrganization', 'orders:read'] });
    const res = await exchange(t.app, pat.key);
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body).toEqual({
      access_token: expect.any(String),
      token_type: 'Bearer',
      expires_in: 3600,
      issued_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      scope: 'GetOrganization orders:read',
    });
    const verified = await verifyWithJwks(res.body.access_token);
    expect(verified.ok).toBe(true);
    if (!verified.ok) return;
    expect(verified.claims).toMatchObject({ iss: 'http://auth.test', aud: 'portcullis', tid: pat.id, scope: 'GetOrganization orders:read' });
    const header = JSON.parse(Buffer.from((res.body.access_token as string).split('.')[0]!, 'base64url').toString());
    expect(header).toMatchObject({ alg: 'ES256', typ: 'at+jwt', kid: expect.any(String) });
  });

  it('accepts JSON bodies and the RFC 8693 token-exchange grant with down-scoping', async () => {
    const pat = await createPat(t.app, admin, { permissions: ['GetOrganization', 'orders:read'] });
    const res = await request(t.app).post('/auth/v1/token').send({
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      subject_token: pat.key,
      subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      scope: 'orders:read',
      audience: 'portcullis',
    });
    expect(res.status).toBe(200);
    expect(res.body.scope).toBe('orders:read');
  });

  it('refuses a scope beyond the token and an unknown audience', async () => {
    const pat = await createPat(t.app, admin, { permissions: ['orders:read'] });
    const base = { grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', subject_token: pat.key, subject_token_type: 'urn:ietf:params:oauth:token-type:access_token' };
    const wider = await request(t.app).post('/auth/v1/token').type('form').send({ ...base, scope: 'orders:read orders:write' });
    expect(wider.status).toBe(400);
    expect(wider.body.error).toBe('invalid_scope');
    const foreign = await request(t.app).post('/auth/v1/token').type('form').send({ ...base, audience: 'elsewhere' });
    expect(foreign.status).toBe(400);
    expect(foreign.body.error).toBe('invalid_target');
  });

  it('logs in with email and password', async () => {
    const res = await request(t.app).post('/auth/v1/token').type('form').send({ grant_type: 'password', username: 'ADMIN@example.test', password: 'correct horse battery staple' });
    expect(res.status).toBe(200);
    expect(res.body.scope).toBe('*');
    const bad = await request(t.app).post('/auth/v1/token').type('form').send({ grant_type: 'password', username: 'admin@example.test', password: 'wrong password!' });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe('invalid_grant');
    const nobody = await request(t.app).post('/auth/v1/token').type('form').send({ grant_type: 'password', username: 'nobody@example.test', password: 'wrong password!' });
    expect(nobody.body).toEqual({ ...bad.body, requestId: expect.any(String) });
  });

  it('answers the same invalid_grant for unknown, mistyped, disabled, expired, retired and deleted PATs', async () => {
    const disabled = await createPat(t.app, admin);
    const expiring = await createPat(t.app, admin, { ttl: '10s' });
    const retired = await createPat(t.app, admin);
    const deleted = await createPat(t.app, admin);
    const auth = { Authorization: `Bearer ${admin}` };
    await request(t.app).patch(`/api/v1/api_tokens/${disabled.id}`).set(auth).send({ enabled: false }).expect(200);
    await request(t.app).post(`/api/v1/api_tokens/${retired.id}/retire`).set(auth).expect(200);
    await request(t.app).delete(`/api/v1/api_tokens/${deleted.id}`).set(auth).expect(204);
    t.clock.advance(11_000);
    const mistyped = disabled.key.slice(0, -8) + (disabled.key.at(-8) === 'a' ? 'b' : 'a') + disabled.key.slice(-7);
    const unknown = (await createPat(t.app, admin)).key.replace(/^pcl_.{16}/, 'pcl_' + '0'.repeat(16));

    const bodies = [];
    for (const key of [disabled.key, expiring.key, retired.key, deleted.key, mistyped, unknown, 'garbage', 'pcl_short']) {
      const res = await exchange(t.app, key);
      expect(res.status).toBe(400);
      bodies.push({ error: res.body.error, error_description: res.body.error_description });
    }
    expect(new Set(bodies.map((b) => JSON.stringify(b))).size).toBe(1);
    expect(bodies[0]).toEqual({ error: 'invalid_grant', error_description: 'The token is invalid, expired or revoked' });
  });

  it('never lets a session outlive its PAT', async () => {
    const pat = await createPat(t.app, admin, { ttl: '10m' });
    const res = await exchange(t.app, pat.key);
    expect(res.body.expires_in).toBe(600);
  });

  it('skips bcrypt on a repeated exchange, and stops at once when the token is disabled', async () => {
    const pat = await createPat(t.app, admin);
    let compares = 0;
    const original = t.services.hasher.compare.bind(t.services.hasher);
    t.services.hasher.compare = (s, h) => {
      compares++;
      return original(s, h);
    };
    try {
      expect((await exchange(t.app, pat.key)).status).toBe(200);
      expect((await exchange(t.app, pat.key)).status).toBe(200);
      expect((await exchange(t.app, pat.key)).status).toBe(200);
      expect(compares).toBe(1);
      await request(t.app).patch(`/api/v1/api_tokens/${pat.id}`).set('Authorization', `Bearer ${admin}`).send({ enabled: false }).expect(200);
      expect((await exchange(t.app, pat.key)).status).toBe(400);
    } finally {
      t.services.hasher.compare = original;
    }
  });

  it('names RFC 6749 errors for bad requests', async () => {
    const cases: [Record<string, string>, number, string][] = [
      [{}, 400, 'invalid_request'],
      [{ grant_type: 'client_credentials' }, 400, 'unsupported_grant_type'],
      [{ grant_type: 'password', username: 'x' }, 400, 'invalid_request'],
      [{ grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', subject_token: 'x' }, 400, 'invalid_request'],
    ];
    for (const [body, status, error] of cases) {
      const res = await request(t.app).post('/auth/v1/token').type('form').send(body);
      expect(res.status, JSON.stringify(body)).toBe(status);
      expect(res.body.error).toBe(error);
      expect(res.body.requestId).toEqual(expect.any(String));
    }
  });

  it('refuses malformed bodies, repeated fields, wrong media types and oversized bodies with 4xx', async () => {
    const post = () => request(t.app).post('/auth/v1/token');
    expect((await post().set('Content-Type', 'application/json').send('{"pat":')).body.error).toBe('invalid_request');
    expect((await post().set('Content-Type', 'application/json').send('[1,2]')).status).toBe(400);
    expect((await post().type('form').send('pat=a&pat=b')).body.error).toBe('invalid_request');
    expect((await post().send({ pat: 42 })).body.error).toBe('invalid_request');
    expect((await post().set('Content-Type', 'text/plain').send('pat=x')).status).toBe(415);
    const huge = await post().type('form').send(`pat=${'a'.repeat(20_000)}`);
    expect(huge.status).toBe(413);
    expect(huge.body.error).toBe('payload_too_large');
    // Said to be compressed, and is not: the client's error (body-parser's zlib error has no `type`).
    const corrupt = await post().set('Content-Type', 'application/x-www-form-urlencoded').set('Content-Encoding', 'gzip').send('pat=oops!');
    expect(corrupt.status).toBe(400);
    expect(corrupt.body).toMatchObject({ error: 'invalid_request', error_description: 'The request body could not be read' });
    // Still serving.
    expect((await request(t.app).get('/healthz')).status).toBe(200);
  });
});

describe('observability (auth)', () => {
  it('serves Prometheus metrics: requests by route template and status, exchanges by outcome, revocation publishes', async () => {
    const t = await createTestAuth('pglite');
    try {
      const admin = await login(t.app);
      const pat = await createPat(t.app, admin);
      await exchange(t.app, pat.key);
      await exchange(t.app, 'pcl_garbage');
      await request(t.app).delete(`/api/v1/api_tokens/${pat.id}`).set('Authorization', `Bearer ${admin}`).expect(204);
      const res = await request(t.app).get('/metrics');
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/plain/);
      expect(res.text).toMatch(/portcullis_auth_exchanges_total\{grant="pat",outcome="issued"\} 1/);
      expect(res.text).toMatch(/portcullis_auth_exchanges_total\{grant="pat",outcome="invalid_grant"\} 1/);
      expect(res.text).toMatch(/portcullis_auth_exchanges_total\{grant="password",outcome="issued"\} 1/);
      expect(res.text).toMatch(/portcullis_auth_http_request_duration_seconds_count\{method="DELETE",route="\/api\/v1\/api_tokens\/:id",status="204"\} 1/);
      expect(res.text).toMatch(/portcullis_auth_revocation_publishes_total\{result="ok"\} 1/);
      expect(res.text).not.toContain(pat.id);
    } finally {
      await t.close();
    }
  });

  it('logs one line per request with id, route template, status and token id, and no credential', async () => {
    const t = await createTestAuth('pglite');
    try {
      const admin = await login(t.app);
      const pat = await createPat(t.app, admin);
      const session = (await exchange(t.app, pat.key)).body.access_token as string;
      await request(t.app).get('/api/v1/api_tokens').set('Authorization', `Bearer ${session}`).expect(200);
      const lines = t.logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'request');
      const listed = lines.find((l) => l.route === '/api/v1/api_tokens' && (l.res as { status: number }).status === 200);
      expect(listed).toMatchObject({ tokenId: pat.id, req: { id: expect.any(String), method: 'GET' }, responseTime: expect.any(Number) });
      const all = t.logs.join('\n');
      for (const secret of [pat.key, session, admin, 'correct horse battery staple']) expect(all).not.toContain(secret);
    } finally {
      await t.close();
    }
  });
});
