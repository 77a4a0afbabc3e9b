import { DEFAULT_CLOCK_TOLERANCE_SEC } from '@portcullis/jwt';
import { generatePat } from '@portcullis/token';
import request from 'supertest';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  BACKENDS,
  type TestAuth,
  type TestUser,
  bearer,
  claimsOf,
  createOrganization,
  createPat,
  createTestAuth,
  createUser,
  exchange,
  login,
  revocationView,
} from './harness.js';

const HOUR = 3_600_000;

describe.each(BACKENDS)('OAuth revocation and introspection (%s)', (backend) => {
  let t: TestAuth;
  let admin: string;
  let user: TestUser;

  beforeAll(async () => {
    t = await createTestAuth(backend);
    admin = await login(t.app);
    user = await createUser(t.app, admin, 'normal', 'holder');
  });
  afterAll(() => t.close());
  beforeEach(async () => {
    admin = await login(t.app);
    user.session = await login(t.app, user.email, user.password);
  });

  const revoke = (body: Record<string, unknown>) => request(t.app).post('/auth/v1/revoke').type('form').send(body);
  const introspect = (token: string, session = admin) => request(t.app).post('/auth/v1/introspect').type('form').set(bearer(session)).send({ token });
  const listTokens = (session: string) => request(t.app).get('/api/v1/api_tokens').set(bearer(session));

  describe('POST /auth/v1/revoke (RFC 7009)', () => {
    it.each([
      ['garbage', 'not a token at all'],
      ['a well-formed PAT nobody issued', generatePat().key],
      ['a malformed PAT', 'pcl_short'],
      ['a JWT-shaped string', 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln'],
    ])('answers 200 for %s, and changes nothing', async (_case, token) => {
      const size = t.bus.size;
      const res = await revoke({ token, token_type_hint: 'access_token' });
      expect(res.status).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(t.bus.size).toBe(size);
    });

    it('answers 400 invalid_request when the token parameter is missing, empty, repeated or not a string', async () => {
      const cases = [
        request(t.app).post('/auth/v1/revoke').type('form').send({}),
        request(t.app).post('/auth/v1/revoke').send({}),
        revoke({ token: '' }),
        request(t.app).post('/auth/v1/revoke').type('form').send('token=a&token=b'),
        request(t.app).post('/auth/v1/revoke').send({ token: 42 }),
      ];
      for (const res of await Promise.all(cases)) {
        expect(res.status).toBe(400);
        expect(res.body).toEqual({ error: 'invalid_request', error_description: expect.any(String), requestId: expect.any(String) });
      }
    });

    it('revokes a session JWT: it answers 401 from then on, while the PAT keeps exchanging', async () => {
      const pat = await createPat(t.app, user.session);
      const session = (await exchange(t.app, pat.key)).body.access_token as string;
      const other = (await exchange(t.app, pat.key)).body.access_token as string;
      expect((await listTokens(session)).status).toBe(200);
      const view = await revocationView(t);
      try {
        expect((await revoke({ token: session, token_type_hint: 'access_token' })).status).toBe(200);
        const res = await listTokens(session);
        expect(res.status).toBe(401);
        expect(res.body.code).toBe('invalid_token');
        expect(res.headers['www-authenticate']).toContain('error="invalid_token"');
        // Only that session: its siblings and the PAT are untouched.
        expect((await listTokens(other)).status).toBe(200);
        const again = await exchange(t.app, pat.key);
        expect(again.status).toBe(200);
        expect((await listTokens(again.body.access_token)).status).toBe(200);
        // The bus carried it to every reader (gateways).
        expect(view.isRevoked(claimsOf(session))).toBe(true);
        expect(view.isRevoked(claimsOf(other))).toBe(false);
        expect(view.isRevoked(claimsOf(again.body.access_token))).toBe(false);
      } finally {
        await view.stop();
      }
    });

    it('revokes a password-login session the same way (JSON body)', async () => {
      const session = await login(t.app, user.email, user.password);
      expect((await request(t.app).post('/auth/v1/revoke').send({ token: session })).status).toBe(200);
      expect((await listTokens(session)).status).toBe(401);
      expect((await listTokens(user.session)).status).toBe(200);
    });

    it('retires a PAT: no more exchanges, its sessions end, and the record shows it retired', async () => {
      const pat = await createPat(t.app, user.session);
      const session = (await exchange(t.app, pat.key)).body.access_token as string;
      const view = await revocationView(t);
      try {
        expect((await revoke({ token: pat.key })).status).toBe(200);
        expect((await exchange(t.app, pat.key)).status).toBe(400);
        expect((await listTokens(session)).status).toBe(401);
        const record = await request(t.app).get(`/api/v1/api_tokens/${pat.id}`).set(bearer(user.session));
        expect(record.body).toMatchObject({ retired: true, enabled: false, revoked_at: expect.any(String) });
        expect(view.tokenRevokedAt(pat.id)).toBe(t.clock());
        expect(view.isRevoked(claimsOf(session))).toBe(true);
        // Revoking it again is still 200.
        expect((await revoke({ token: pat.key })).status).toBe(200);
      } finally {
        await view.stop();
      }
    });

    it('leaves a PAT alone when the key presented is wrong (right lookup id, wrong secret)', async () => {
      const pat = await createPat(t.app, user.session);
      const wrong = pat.key.slice(0, 20) + generatePat().key.slice(20);
      expect((await revoke({ token: wrong })).status).toBe(200);
      expect((await exchange(t.app, pat.key)).status).toBe(200);
    });
  });

  describe('POST /auth/v1/introspect (RFC 7662)', () => {
    it('answers 401 without a session and 403 insufficient_scope to a normal user', async () => {
      const anonymous = await request(t.app).post('/auth/v1/introspect').type('form').send({ token: admin });
      expect(anonymous.status).toBe(401);
      const normal = await introspect(admin, user.session);
      expect(normal.status).toBe(403);
      expect(normal.body).toMatchObject({ error: 'insufficient_scope' });
    });

    it('answers active: true with the claims of a live session', async () => {
      const pat = await createPat(t.app, user.session, { permissions: ['GetOrganization', 'orders:read'] });
      const session = (await exchange(t.app, pat.key)).body.access_token as string;
      const res = await introspect(session);
      expect(res.status).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      const claims = claimsOf(session);
      expect(res.body).toEqual({ active: true, token_type: 'Bearer', ...claims });
      expect(res.body).toMatchObject({ sub: user.id, tid: pat.id, scope: 'GetOrganization orders:read', iss: 'http://auth.test', aud: 'portcullis' });
    });

    it('answers active: true for a live PAT, with its token id and permissions', async () => {
      const pat = await createPat(t.app, user.session, { permissions: ['orders:read'], ttl: '2h' });
      const res = await introspect(pat.key);
      expect(res.body).toMatchObject({
        active: true,
        token_type: 'personal_access_token',
        tid: pat.id,
        sub: user.id,
        scope: 'orders:read',
        exp: Math.floor(Date.parse(pat.body.expires as string) / 1000),
      });
      expect(JSON.stringify(res.body)).not.toContain(pat.key);
    });

    it('answers only {"active": false} for a revoked session', async () => {
      const pat = await createPat(t.app, user.session);
      const session = (await exchange(t.app, pat.key)).body.access_token as string;
      await revoke({ token: session }).expect(200);
      expect((await introspect(session)).body).toEqual({ active: false });
    });

    it('answers only {"active": false} for the sessions of a disabled PAT, and for the PAT', async () => {
      const pat = await createPat(t.app, user.session);
      const session = (await exchange(t.app, pat.key)).body.access_token as string;
      await request(t.app).patch(`/api/v1/api_tokens/${pat.id}`).set(bearer(user.session)).send({ enabled: false }).expect(200);
      expect((await introspect(session)).body).toEqual({ active: false });
      expect((await introspect(pat.key)).body).toEqual({ active: false });
    });

    it('answers only {"active": false} for an expired session and an expired PAT', async () => {
      const pat = await createPat(t.app, user.session, { ttl: '90m' });
      const session = (await exchange(t.app, pat.key)).body.access_token as string;
      // Past exp and the verifier's clock tolerance.
      t.clock.advance(HOUR + (DEFAULT_CLOCK_TOLERANCE_SEC + 1) * 1000);
      admin = await login(t.app);
      expect((await introspect(session)).body).toEqual({ active: false });
      expect((await introspect(pat.key)).body.active).toBe(true);
      t.clock.advance(HOUR);
      admin = await login(t.app);
      expect((await introspect(pat.key)).body).toEqual({ active: false });
    });

    it("answers only {\"active\": false} for another organization's session and PAT", async () => {
      const other = await createOrganization(t, 'Umbrella');
      const theirPat = await createPat(t.app, other.admin.session);
      const theirSession = (await exchange(t.app, theirPat.key)).body.access_token as string;
      expect((await introspect(theirSession)).body).toEqual({ active: false });
      expect((await introspect(theirPat.key)).body).toEqual({ active: false });
      expect((await introspect(other.admin.session)).body).toEqual({ active: false });
      // Their own admin sees them.
      expect((await introspect(theirSession, other.admin.session)).body.active).toBe(true);
    });

    it('answers only {"active": false} for garbage and unknown PATs', async () => {
      for (const token of ['garbage', generatePat().key, 'a.b.c']) {
        expect((await introspect(token)).body, token).toEqual({ active: false });
      }
    });

    it('answers 400 invalid_request without a token parameter', async () => {
      const res = await request(t.app).post('/auth/v1/introspect').type('form').set(bearer(admin)).send({});
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_request');
    });
  });
});
