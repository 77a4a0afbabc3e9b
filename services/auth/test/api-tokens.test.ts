import type { RevocationSet } from '@portcullis/revocation';
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
  detailPaths,
  exchange,
  idsOf,
  login,
  revocationView,
  rows,
} from './harness.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const MISSING_ID = '00000000-0000-4000-8000-000000000000';

/** An error body without its request id, to compare two answers. */
const withoutRequestId = (body: Record<string, unknown>) => {
  const { requestId: _requestId, ...rest } = body;
  return rest;
};

describe.each(BACKENDS)('token management API (%s)', (backend) => {
  let t: TestAuth;
  let admin: string;
  let alice: TestUser;
  let bob: TestUser;
  /** What every gateway holds: the revocations published on the bus. */
  let gateway: RevocationSet;

  beforeAll(async () => {
    t = await createTestAuth(backend);
    admin = await login(t.app);
    alice = await createUser(t.app, admin, 'normal', 'alice');
    bob = await createUser(t.app, admin, 'normal', 'bob');
    gateway = await revocationView(t);
  });
  afterAll(async () => {
    await gateway.stop();
    await t.close();
  });
  const revokedAtGateway = (session: string) => gateway.isRevoked(claimsOf(session));
  // Tests move the clock by hours and days: every test starts with sessions that are fresh by it.
  beforeEach(async () => {
    admin = await login(t.app);
    alice.session = await login(t.app, alice.email, alice.password);
    bob.session = await login(t.app, bob.email, bob.password);
  });

  const iso = (ms: number) => new Date(ms).toISOString();
  const getToken = (session: string, id: string) => request(t.app).get(`/api/v1/api_tokens/${id}`).set(bearer(session));
  const patch = (session: string, id: string, body: object) => request(t.app).patch(`/api/v1/api_tokens/${id}`).set(bearer(session)).send(body);

  describe('POST /api/v1/api_tokens', () => {
    it('creates a token: 201 with every field and the key, shown this once', async () => {
      const expires = iso(t.clock() + 30 * DAY);
      const res = await request(t.app)
        .post('/api/v1/api_tokens')
        .set(bearer(alice.session))
        .send({ name: 'ci', description: 'deploys from CI', enabled: true, expires, permissions: ['GetOrganization', 'orders:read'], kind: 'user' });
      expect(res.status).toBe(201);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.headers.location).toBe(`/api/v1/api_tokens/${res.body.id}`);
      expect(res.body).toEqual({
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        key: expect.stringMatching(/^pcl_[0-9A-Za-z]{54}$/),
        kind: 'user',
        owner: alice.id,
        organization: expect.any(String),
        name: 'ci',
        description: 'deploys from CI',
        enabled: true,
        expires,
        permissions: ['GetOrganization', 'orders:read'],
        default_app_state: 'allow',
        created_at: expect.any(String),
        updated_at: expect.any(String),
        last_used_at: null,
        last_used_ip: null,
        acting_role: null,
        retired: false,
        revoked_at: null,
      });
      const exchanged = await exchange(t.app, res.body.key);
      expect(exchanged.status).toBe(200);
      expect(claimsOf(exchanged.body.access_token)).toMatchObject({ sub: alice.id, tid: res.body.id, scope: 'GetOrganization orders:read' });
    });

    it('defaults to an enabled user token holding all the owner may do (*), expiring in 72 hours', async () => {
      const res = await request(t.app).post('/api/v1/api_tokens').set(bearer(alice.session)).send({ name: 'defaults' });
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({ kind: 'user', enabled: true, permissions: ['*'], description: '', expires: iso(t.clock() + 72 * HOUR) });
    });

    it.each([
      ['10s', 10 * SECOND],
      ['60m', 60 * MINUTE],
      ['10000h', 10_000 * HOUR],
      ['1h30m', 90 * MINUTE],
    ])('takes ttl %s and sets expires that far from now', async (ttl, ms) => {
      const { body } = await createPat(t.app, alice.session, { ttl });
      expect(body.expires).toBe(iso(t.clock() + ms));
    });

    it('takes "expires": null for a token that never expires', async () => {
      const { body, key } = await createPat(t.app, alice.session, { expires: null });
      expect(body.expires).toBeNull();
      t.clock.advance(400 * DAY);
      expect((await exchange(t.app, key)).status).toBe(200);
    });

    it('refuses expires together with ttl: 400 validation_failed', async () => {
      const res = await request(t.app).post('/api/v1/api_tokens').set(bearer(alice.session)).send({ name: 'both', expires: iso(t.clock() + DAY), ttl: '1h' });
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ code: 'validation_failed', message: 'Give expires or ttl, not both', details: [{ path: 'ttl', message: 'conflicts with expires' }] });
    });

    it.each([
      ['an unknown field', { name: 'x', admin: true }, 'admin'],
      ['a misspelt field', { name: 'x', ttL: '1h' }, 'ttL'],
      ['a ttl without a unit', { name: 'x', ttl: '3600' }, 'ttl'],
      ['a ttl in words', { name: 'x', ttl: '10 minutes' }, 'ttl'],
      ['a zero ttl', { name: 'x', ttl: '0s' }, 'ttl'],
      ['a non-RFC 3339 expires', { name: 'x', expires: 'tomorrow' }, 'expires'],
      ['a non-boolean enabled', { name: 'x', enabled: 'yes' }, 'enabled'],
      ['an unknown kind', { name: 'x', kind: 'robot' }, 'kind'],
      ['permissions that are not a list', { name: 'x', permissions: '*' }, 'permissions'],
      ['an unknown default_app_state', { name: 'x', default_app_state: 'maybe' }, 'default_app_state'],
    ])('refuses %s: 400 validation_failed naming the field, and stores nothing', async (_case, body, field) => {
      const before = (await request(t.app).get('/api/v1/api_tokens').set(bearer(bob.session))).body.length;
      const res = await request(t.app).post('/api/v1/api_tokens').set(bearer(bob.session)).send(body);
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('validation_failed');
      expect(detailPaths(res.body)).toContain(field);
      expect((await request(t.app).get('/api/v1/api_tokens').set(bearer(bob.session))).body.length).toBe(before);
    });

    it('refuses an expiry in the past: 400 validation_failed', async () => {
      const res = await request(t.app).post('/api/v1/api_tokens').set(bearer(alice.session)).send({ name: 'past', expires: iso(t.clock() - MINUTE) });
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ code: 'validation_failed', message: 'expires must be in the future' });
    });

    it('creates a disabled token ("enabled": false) that cannot be exchanged until enabled', async () => {
      const pat = await createPat(t.app, alice.session, { enabled: false });
      expect(pat.body.enabled).toBe(false);
      expect((await exchange(t.app, pat.key)).status).toBe(400);
      await patch(alice.session, pat.id, { enabled: true }).expect(200);
      expect((await exchange(t.app, pat.key)).status).toBe(200);
    });

    it('answers 401 without a session, with a WWW-Authenticate challenge', async () => {
      const res = await request(t.app).post('/api/v1/api_tokens').send({ name: 'anonymous' });
      expect(res.status).toBe(401);
      expect(res.body.code).toBe('unauthorized');
      expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="portcullis"/);
    });

    it('answers 401 to a PAT sent instead of a session token', async () => {
      const pat = await createPat(t.app, alice.session);
      const res = await request(t.app).get('/api/v1/api_tokens').set(bearer(pat.key));
      expect(res.status).toBe(401);
      expect(res.body.code).toBe('invalid_token');
    });
  });

  describe('GET /api/v1/api_tokens', () => {
    it("lists the caller's own tokens only, never with a key", async () => {
      const mine = [await createPat(t.app, bob.session, { name: 'bob-1' }), await createPat(t.app, bob.session, { name: 'bob-2' })];
      const theirs = await createPat(t.app, alice.session, { name: 'alice-1' });
      const res = await request(t.app).get('/api/v1/api_tokens').set(bearer(bob.session));
      expect(res.status).toBe(200);
      const ids = idsOf(res.body);
      expect(ids).toEqual(expect.arrayContaining(mine.map((p) => p.id)));
      expect(ids).not.toContain(theirs.id);
      expect(rows<{ owner: string }>(res.body).every((tok) => tok.owner === bob.id)).toBe(true);
      expect(rows<object>(res.body).every((tok) => !('key' in tok))).toBe(true);
      for (const pat of mine) expect(res.text).not.toContain(pat.key);
    });

    it("does not list an admin's view of everyone: admins get their own tokens here too", async () => {
      const own = await createPat(t.app, admin, { name: 'admin-own' });
      const res = await request(t.app).get('/api/v1/api_tokens').set(bearer(admin));
      const owners = new Set(rows<{ owner: string }>(res.body).map((tok) => tok.owner));
      expect(idsOf(res.body)).toContain(own.id);
      expect([...owners]).toEqual([own.body.owner]);
    });
  });

  describe('GET /api/v1/api_tokens/all', () => {
    it("lists every token of the organization to an admin, keys excluded", async () => {
      const a = await createPat(t.app, alice.session);
      const b = await createPat(t.app, bob.session);
      const res = await request(t.app).get('/api/v1/api_tokens/all').set(bearer(admin));
      expect(res.status).toBe(200);
      expect(idsOf(res.body)).toEqual(expect.arrayContaining([a.id, b.id]));
      expect(res.text).not.toContain(a.key);
      expect(res.text).not.toContain(b.key);
    });

    it('answers 403 insufficient_scope to a normal user', async () => {
      const res = await request(t.app).get('/api/v1/api_tokens/all').set(bearer(alice.session));
      expect(res.status).toBe(403);
      expect(res.body).toMatchObject({ code: 'insufficient_scope', message: 'This action needs the ListAllAPITokens permission' });
    });
  });

  describe('GET /api/v1/api_tokens/:id', () => {
    it('answers the token without its key', async () => {
      const pat = await createPat(t.app, alice.session, { description: 'look at me' });
      const res = await getToken(alice.session, pat.id);
      expect(res.status).toBe(200);
      const { key: _key, ...view } = pat.body;
      expect(res.body).toEqual(view);
      expect(res.text).not.toContain(pat.key);
    });

    it("lets an admin read a user's token", async () => {
      const pat = await createPat(t.app, alice.session);
      expect((await getToken(admin, pat.id)).status).toBe(200);
    });

    it("answers the same 404 for someone else's token, a missing one and a non-UUID id", async () => {
      const alices = await createPat(t.app, alice.session);
      const foreign = await getToken(bob.session, alices.id);
      const missing = await getToken(bob.session, MISSING_ID);
      const garbage = await getToken(bob.session, 'not-a-uuid');
      expect(foreign.status).toBe(404);
      expect(withoutRequestId(foreign.body)).toEqual({ code: 'not_found', message: 'No such token' });
      expect(withoutRequestId(missing.body)).toEqual(withoutRequestId(foreign.body));
      expect(withoutRequestId(garbage.body)).toEqual(withoutRequestId(foreign.body));
      expect([missing.status, garbage.status]).toEqual([404, 404]);
      // An admin of another organization is a stranger too.
      const other = await createOrganization(t, 'Globex');
      const cross = await getToken(other.admin.session, alices.id);
      expect(cross.status).toBe(404);
      expect(withoutRequestId(cross.body)).toEqual(withoutRequestId(foreign.body));
      expect(idsOf((await request(t.app).get('/api/v1/api_tokens/all').set(bearer(other.admin.session))).body)).not.toContain(alices.id);
    });

    it('answers 400 to a path that is not valid percent-encoding, for every method', async () => {
      for (const id of ['%E0%A4%A', '%', 'abc%zz']) {
        for (const res of [await getToken(alice.session, id), await patch(alice.session, id, { name: 'x' })]) {
          expect(res.status, id).toBe(400);
          expect(withoutRequestId(res.body)).toEqual({ code: 'invalid_request', message: 'The path is not valid percent-encoding' });
        }
      }
      expect((await request(t.app).post('/api/v1/api_tokens/%C0/retire').set(bearer(alice.session))).status).toBe(400);
    });

    it("answers 404 to every change of someone else's token, and changes nothing", async () => {
      const alices = await createPat(t.app, alice.session);
      const calls = [
        patch(bob.session, alices.id, { enabled: false }),
        request(t.app).delete(`/api/v1/api_tokens/${alices.id}`).set(bearer(bob.session)),
        request(t.app).post(`/api/v1/api_tokens/${alices.id}/retire`).set(bearer(bob.session)),
        request(t.app).post(`/api/v1/api_tokens/${alices.id}/rotate`).set(bearer(bob.session)),
        request(t.app).get(`/api/v1/api_tokens/${alices.id}/applications`).set(bearer(bob.session)),
      ];
      for (const res of await Promise.all(calls)) {
        expect(res.status).toBe(404);
        expect(withoutRequestId(res.body)).toEqual({ code: 'not_found', message: 'No such token' });
      }
      expect((await getToken(alice.session, alices.id)).body).toMatchObject({ enabled: true, retired: false });
      expect((await exchange(t.app, alices.key)).status).toBe(200);
    });
  });

  describe('PATCH /api/v1/api_tokens/:id', () => {
    it('changes the description and name, answering the token without its key', async () => {
      const pat = await createPat(t.app, alice.session, { description: 'old' });
      const res = await patch(alice.session, pat.id, { description: 'new words', name: 'renamed' });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ id: pat.id, description: 'new words', name: 'renamed', enabled: true });
      expect(res.body).not.toHaveProperty('key');
      expect(res.text).not.toContain(pat.key);
      expect((await getToken(alice.session, pat.id)).body.description).toBe('new words');
    });

    it('disables a token: no exchange from that moment, and the sessions it issued end', async () => {
      const pat = await createPat(t.app, alice.session);
      const before = (await exchange(t.app, pat.key)).body.access_token as string;
      expect((await request(t.app).get('/api/v1/api_tokens').set(bearer(before))).status).toBe(200);

      const res = await patch(alice.session, pat.id, { enabled: false });
      expect(res.status).toBe(200);
      expect(res.body.enabled).toBe(false);
      const denied = await exchange(t.app, pat.key);
      expect(denied.status).toBe(400);
      expect(denied.body.error).toBe('invalid_grant');
      expect((await request(t.app).get('/api/v1/api_tokens').set(bearer(before))).status).toBe(401);
      expect(revokedAtGateway(before)).toBe(true);
    });

    it('re-enables a disabled token: it exchanges again and the new sessions work', async () => {
      const pat = await createPat(t.app, alice.session);
      await patch(alice.session, pat.id, { enabled: false }).expect(200);
      // The revocation covers sessions issued up to its second (JWT iat has whole seconds).
      t.clock.advance(SECOND);
      expect((await patch(alice.session, pat.id, { enabled: true })).body.enabled).toBe(true);
      const res = await exchange(t.app, pat.key);
      expect(res.status).toBe(200);
      expect((await request(t.app).get('/api/v1/api_tokens').set(bearer(res.body.access_token))).status).toBe(200);
      expect(revokedAtGateway(res.body.access_token)).toBe(false);
    });

    it('moves expires, takes a ttl, or "expires": null for never', async () => {
      const pat = await createPat(t.app, alice.session, { ttl: '1h' });
      const later = iso(t.clock() + 5 * DAY);
      expect((await patch(alice.session, pat.id, { expires: later })).body.expires).toBe(later);
      expect((await patch(alice.session, pat.id, { ttl: '10m' })).body.expires).toBe(iso(t.clock() + 10 * MINUTE));
      expect((await patch(alice.session, pat.id, { expires: null })).body.expires).toBeNull();
      expect((await getToken(alice.session, pat.id)).body.expires).toBeNull();
    });

    it('leaves expires alone when the body does not mention it', async () => {
      const pat = await createPat(t.app, alice.session, { ttl: '2h' });
      expect((await patch(alice.session, pat.id, { description: 'only this' })).body.expires).toBe(pat.body.expires);
    });

    it('refuses moving expires into the past: 400, and the token keeps working', async () => {
      const pat = await createPat(t.app, alice.session, { ttl: '1h' });
      const res = await patch(alice.session, pat.id, { expires: iso(t.clock() - SECOND) });
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('validation_failed');
      expect((await exchange(t.app, pat.key)).status).toBe(200);
    });

    it('ends the sessions of a token whose expiry is shortened', async () => {
      const pat = await createPat(t.app, alice.session, { ttl: '10h' });
      const session = (await exchange(t.app, pat.key)).body.access_token as string;
      await patch(alice.session, pat.id, { ttl: '5m' }).expect(200);
      expect((await request(t.app).get('/api/v1/api_tokens').set(bearer(session))).status).toBe(401);
      expect(revokedAtGateway(session)).toBe(true);
    });

    it('narrowing permissions ends the sessions already issued; the next exchange carries the narrower scope', async () => {
      const pat = await createPat(t.app, alice.session, { permissions: ['GetOrganization', 'orders:read', 'orders:write'] });
      const wide = (await exchange(t.app, pat.key)).body.access_token as string;
      const res = await patch(alice.session, pat.id, { permissions: ['GetOrganization', 'orders:read'] });
      expect(res.status).toBe(200);
      expect(res.body.permissions).toEqual(['GetOrganization', 'orders:read']);
      expect((await request(t.app).get('/api/v1/organization').set(bearer(wide))).status).toBe(401);
      expect(revokedAtGateway(wide)).toBe(true);
      // The revocation covers sessions issued up to its second (JWT iat has whole seconds).
      t.clock.advance(SECOND);
      const narrow = await exchange(t.app, pat.key);
      expect(narrow.body.scope).toBe('GetOrganization orders:read');
      expect(revokedAtGateway(narrow.body.access_token)).toBe(false);
    });

    it('keeps the sessions of a token whose expiry is extended or whose description changes', async () => {
      const pat = await createPat(t.app, alice.session, { ttl: '10h' });
      const session = (await exchange(t.app, pat.key)).body.access_token as string;
      await patch(alice.session, pat.id, { ttl: '20h', description: 'longer' }).expect(200);
      expect((await request(t.app).get('/api/v1/api_tokens').set(bearer(session))).status).toBe(200);
      expect(revokedAtGateway(session)).toBe(false);
    });

    it('refuses NUL characters in names and descriptions (PostgreSQL cannot store them): 400, nothing stored', async () => {
      const created = await request(t.app).post('/api/v1/api_tokens').set(bearer(alice.session)).send({ name: 'ci\u0000bot' });
      expect(created.status).toBe(400);
      expect(created.body).toMatchObject({ code: 'validation_failed', details: [{ path: 'name', message: 'must not contain NUL characters' }] });
      const before = idsOf((await request(t.app).get('/api/v1/api_tokens').set(bearer(alice.session))).body);
      const pat = await createPat(t.app, alice.session, { description: 'kept' });
      const changed = await patch(alice.session, pat.id, { description: 'line\u0000' });
      expect(changed.status).toBe(400);
      expect((await getToken(alice.session, pat.id)).body.description).toBe('kept');
      // The refused create stored nothing: the only new token is the one made after it.
      const after = idsOf((await request(t.app).get('/api/v1/api_tokens').set(bearer(alice.session))).body);
      expect(after.filter((id) => !before.includes(id))).toEqual([pat.id]);
    });

    it('refuses unknown fields and expires together with ttl: 400 validation_failed', async () => {
      const pat = await createPat(t.app, alice.session);
      for (const body of [{ key: 'pcl_x' }, { owner: bob.id }, { kind: 'account' }, { expires: iso(t.clock() + DAY), ttl: '1h' }]) {
        const res = await patch(alice.session, pat.id, body);
        expect(res.status, JSON.stringify(body)).toBe(400);
        expect(res.body.code).toBe('validation_failed');
      }
      expect((await getToken(alice.session, pat.id)).body).toMatchObject({ owner: alice.id, kind: 'user', expires: pat.body.expires });
    });
  });

  describe('expiry', () => {
    it('an expired PAT can no longer be exchanged', async () => {
      const pat = await createPat(t.app, alice.session, { ttl: '10s' });
      t.clock.advance(9 * SECOND);
      expect((await exchange(t.app, pat.key)).status).toBe(200);
      t.clock.advance(SECOND);
      const res = await exchange(t.app, pat.key);
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_grant');
    });

    it('a session never outlives its PAT: expires_in is cut to the PAT expiry', async () => {
      const pat = await createPat(t.app, alice.session, { ttl: '90s' });
      const res = await exchange(t.app, pat.key);
      expect(res.body.expires_in).toBe(90);
      expect(claimsOf(res.body.access_token).exp).toBe(Math.floor((t.clock() + 90 * SECOND) / 1000));
    });
  });

  describe('DELETE /api/v1/api_tokens/:id', () => {
    it('answers 204, then 404; the PAT no longer exchanges and its sessions end', async () => {
      const pat = await createPat(t.app, alice.session);
      const session = (await exchange(t.app, pat.key)).body.access_token as string;
      const res = await request(t.app).delete(`/api/v1/api_tokens/${pat.id}`).set(bearer(alice.session));
      expect(res.status).toBe(204);
      expect(res.text).toBe('');
      expect((await getToken(alice.session, pat.id)).status).toBe(404);
      expect((await request(t.app).delete(`/api/v1/api_tokens/${pat.id}`).set(bearer(alice.session))).status).toBe(404);
      expect((await exchange(t.app, pat.key)).status).toBe(400);
      expect((await request(t.app).get('/api/v1/api_tokens').set(bearer(session))).status).toBe(401);
      expect(revokedAtGateway(session)).toBe(true);
      const listed = idsOf((await request(t.app).get('/api/v1/api_tokens/all').set(bearer(admin))).body);
      expect(listed).not.toContain(pat.id);
    });
  });

  describe('POST /api/v1/api_tokens/:id/retire', () => {
    it('revokes for good and keeps the record: listed as retired, no exchange, sessions end', async () => {
      const pat = await createPat(t.app, alice.session);
      const session = (await exchange(t.app, pat.key)).body.access_token as string;
      const res = await request(t.app).post(`/api/v1/api_tokens/${pat.id}/retire`).set(bearer(alice.session));
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ id: pat.id, retired: true, enabled: false, revoked_at: iso(t.clock()) });
      expect(res.body).not.toHaveProperty('key');
      expect((await getToken(alice.session, pat.id)).body.retired).toBe(true);
      const listed = idsOf((await request(t.app).get('/api/v1/api_tokens').set(bearer(alice.session))).body);
      expect(listed).toContain(pat.id);
      expect((await exchange(t.app, pat.key)).status).toBe(400);
      expect((await request(t.app).get('/api/v1/api_tokens').set(bearer(session))).status).toBe(401);
      expect(revokedAtGateway(session)).toBe(true);
    });

    it('cannot be re-enabled, edited or rotated afterwards: 409 conflict', async () => {
      const pat = await createPat(t.app, alice.session);
      await request(t.app).post(`/api/v1/api_tokens/${pat.id}/retire`).set(bearer(alice.session)).expect(200);
      const enable = await patch(alice.session, pat.id, { enabled: true });
      expect(enable.status).toBe(409);
      expect(enable.body).toMatchObject({ code: 'conflict', message: 'A retired token cannot be changed' });
      expect((await patch(alice.session, pat.id, { description: 'x' })).status).toBe(409);
      expect((await request(t.app).post(`/api/v1/api_tokens/${pat.id}/rotate`).set(bearer(alice.session))).status).toBe(409);
      expect((await exchange(t.app, pat.key)).status).toBe(400);
    });

    it('is idempotent: retiring again answers the same record', async () => {
      const pat = await createPat(t.app, alice.session);
      const first = await request(t.app).post(`/api/v1/api_tokens/${pat.id}/retire`).set(bearer(alice.session));
      t.clock.advance(MINUTE);
      const second = await request(t.app).post(`/api/v1/api_tokens/${pat.id}/retire`).set(bearer(alice.session));
      expect(second.status).toBe(200);
      expect(second.body.revoked_at).toBe(first.body.revoked_at);
    });
  });

  describe('POST /api/v1/api_tokens/:id/rotate', () => {
    it('answers a new key for the same record, once; the old key and its sessions stop at once', async () => {
      const pat = await createPat(t.app, alice.session, { permissions: ['GetOrganization'] });
      const oldSession = (await exchange(t.app, pat.key)).body.access_token as string;
      const res = await request(t.app).post(`/api/v1/api_tokens/${pat.id}/rotate`).set(bearer(alice.session));
      expect(res.status).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.body).toMatchObject({ id: pat.id, permissions: ['GetOrganization'], key: expect.stringMatching(/^pcl_/) });
      expect(res.body.key).not.toBe(pat.key);

      expect((await exchange(t.app, pat.key)).status).toBe(400);
      expect((await request(t.app).get('/api/v1/organization').set(bearer(oldSession))).status).toBe(401);
      expect(revokedAtGateway(oldSession)).toBe(true);
      const fresh = await exchange(t.app, res.body.key);
      expect(fresh.status).toBe(200);
      expect(claimsOf(fresh.body.access_token).tid).toBe(pat.id);
      const shown = await getToken(alice.session, pat.id);
      expect(shown.body).not.toHaveProperty('key');
      expect(shown.text).not.toContain(res.body.key);
    });

    it('with {"grace": "1h"} keeps the old key working until the clock passes the grace', async () => {
      const pat = await createPat(t.app, alice.session);
      // Exchanged once before the rotation, so the verified-key cache holds the old key too.
      expect((await exchange(t.app, pat.key)).status).toBe(200);
      const oldSession = (await exchange(t.app, pat.key)).body.access_token as string;
      const res = await request(t.app).post(`/api/v1/api_tokens/${pat.id}/rotate`).set(bearer(alice.session)).send({ grace: '1h' });
      expect(res.status).toBe(200);
      const newKey = res.body.key as string;

      expect((await exchange(t.app, pat.key)).status).toBe(200);
      expect((await exchange(t.app, newKey)).status).toBe(200);
      expect((await request(t.app).get('/api/v1/organization').set(bearer(oldSession))).status).toBe(200);
      expect(revokedAtGateway(oldSession)).toBe(false);
      t.clock.advance(HOUR - SECOND);
      expect((await exchange(t.app, pat.key)).status).toBe(200);
      t.clock.advance(SECOND);
      expect((await exchange(t.app, pat.key)).status).toBe(400);
      expect((await exchange(t.app, newKey)).status).toBe(200);
    });

    it('refuses a grace that is not a duration: 400 validation_failed', async () => {
      const pat = await createPat(t.app, alice.session);
      for (const grace of ['soon', 3600, '-1h']) {
        const res = await request(t.app).post(`/api/v1/api_tokens/${pat.id}/rotate`).set(bearer(alice.session)).send({ grace });
        expect(res.status, String(grace)).toBe(400);
        expect(res.body.code).toBe('validation_failed');
      }
      expect((await exchange(t.app, pat.key)).status).toBe(200);
    });
  });

  describe('POST /api/v1/api_tokens/:id/promote', () => {
    it('answers 403 insufficient_scope to a normal user, even for their own token', async () => {
      const pat = await createPat(t.app, alice.session);
      const res = await request(t.app).post(`/api/v1/api_tokens/${pat.id}/promote`).set(bearer(alice.session));
      expect(res.status).toBe(403);
      expect(res.body.code).toBe('insufficient_scope');
      expect((await getToken(alice.session, pat.id)).body.kind).toBe('user');
    });

    it('turns a user token into an account token, irreversibly: promoting again is 409', async () => {
      const pat = await createPat(t.app, alice.session);
      const res = await request(t.app).post(`/api/v1/api_tokens/${pat.id}/promote`).set(bearer(admin));
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ id: pat.id, kind: 'account', owner: null });
      expect(res.body).not.toHaveProperty('key');
      const again = await request(t.app).post(`/api/v1/api_tokens/${pat.id}/promote`).set(bearer(admin));
      expect(again.status).toBe(409);
      expect(again.body).toMatchObject({ code: 'conflict', message: 'The token is already an account token' });
      // Nothing turns it back: the API has no field for kind or owner on edits.
      expect((await patch(admin, pat.id, { kind: 'user' })).status).toBe(400);
    });

    it("never raises what the token can do: a normal user's '*' token keeps a normal ceiling as an account token", async () => {
      const pat = await createPat(t.app, alice.session);
      const res = await request(t.app).post(`/api/v1/api_tokens/${pat.id}/promote`).set(bearer(admin));
      expect(res.body).toMatchObject({ kind: 'account', acting_role: 'normal' });
      const session = (await exchange(t.app, pat.key)).body.access_token as string;
      expect(claimsOf(session)).toMatchObject({ role: 'normal', scope: '*' });
      // Admin-only actions stay out of reach, though the token now belongs to no user.
      expect((await request(t.app).get('/api/v1/users').set(bearer(session))).status).toBe(403);
      expect((await request(t.app).get('/api/v1/api_tokens/all').set(bearer(session))).status).toBe(403);
      expect((await request(t.app).get('/api/v1/organization').set(bearer(session))).status).toBe(200);
    });

    it('makes the token invisible to its former owner and any non-admin, while admins still see it', async () => {
      const pat = await createPat(t.app, alice.session);
      await request(t.app).post(`/api/v1/api_tokens/${pat.id}/promote`).set(bearer(admin)).expect(200);
      expect((await getToken(alice.session, pat.id)).status).toBe(404);
      expect((await patch(alice.session, pat.id, { enabled: false })).status).toBe(404);
      const own = idsOf((await request(t.app).get('/api/v1/api_tokens').set(bearer(alice.session))).body);
      expect(own).not.toContain(pat.id);
      expect((await getToken(admin, pat.id)).body.kind).toBe('account');
      const all = idsOf((await request(t.app).get('/api/v1/api_tokens/all').set(bearer(admin))).body);
      expect(all).toContain(pat.id);
    });

    it('keeps the account token exchangeable after its creator is deleted; their user tokens end', async () => {
      const carol = await createUser(t.app, admin, 'normal', 'carol');
      const kept = await createPat(t.app, carol.session, { permissions: ['GetOrganization'] });
      const lost = await createPat(t.app, carol.session);
      await request(t.app).post(`/api/v1/api_tokens/${kept.id}/promote`).set(bearer(admin)).expect(200);
      await request(t.app).delete(`/api/v1/users/${carol.id}`).set(bearer(admin)).expect(204);

      const res = await exchange(t.app, kept.key);
      expect(res.status).toBe(200);
      expect(claimsOf(res.body.access_token)).toMatchObject({ sub: kept.id, tid: kept.id, scope: 'GetOrganization' });
      expect((await request(t.app).get('/api/v1/organization').set(bearer(res.body.access_token))).status).toBe(200);
      expect((await exchange(t.app, lost.key)).status).toBe(400);
    });
  });

  describe('POST /api/v1/api_tokens with kind "account"', () => {
    it('lets an admin create an account token, owned by no user and hidden from non-admins', async () => {
      const pat = await createPat(t.app, admin, { kind: 'account', permissions: ['orders:read'] });
      expect(pat.body).toMatchObject({ kind: 'account', owner: null });
      expect((await getToken(alice.session, pat.id)).status).toBe(404);
      expect((await exchange(t.app, pat.key)).status).toBe(200);
    });
  });

  describe('last use', () => {
    it('records last_used_at and last_used_ip after an exchange, once the usage recorder flushes', async () => {
      const pat = await createPat(t.app, alice.session);
      const res = await request(t.app).post('/auth/v1/token').type('form').set('X-Forwarded-For', '203.0.113.9').send({ pat: pat.key });
      expect(res.status).toBe(200);
      const usedAt = iso(t.clock());
      // Batched: the exchange itself wrote nothing.
      expect((await getToken(alice.session, pat.id)).body).toMatchObject({ last_used_at: null, last_used_ip: null });
      await t.services.usage.flush();
      expect((await getToken(alice.session, pat.id)).body).toMatchObject({ last_used_at: usedAt, last_used_ip: '203.0.113.9' });
    });

    it('keeps the newest use of several between flushes', async () => {
      const pat = await createPat(t.app, alice.session);
      await request(t.app).post('/auth/v1/token').type('form').set('X-Forwarded-For', '198.51.100.1').send({ pat: pat.key }).expect(200);
      t.clock.advance(MINUTE);
      await request(t.app).post('/auth/v1/token').type('form').set('X-Forwarded-For', '198.51.100.2').send({ pat: pat.key }).expect(200);
      await t.services.usage.flush();
      expect((await getToken(alice.session, pat.id)).body).toMatchObject({ last_used_at: iso(t.clock()), last_used_ip: '198.51.100.2' });
    });
  });

  describe('expiry warning on POST /auth/v1/token', () => {
    const HEADER = 'portcullis-token-expiration';

    it('carries Portcullis-Token-Expiration with the expiry for a PAT expiring within 7 days', async () => {
      const pat = await createPat(t.app, alice.session, { ttl: '6d' });
      const res = await exchange(t.app, pat.key);
      expect(res.status).toBe(200);
      expect(res.headers[HEADER]).toBe(pat.body.expires);
    });

    it('leaves it out for a long-lived or never-expiring PAT, and adds it once the expiry comes within 7 days', async () => {
      const long = await createPat(t.app, alice.session, { ttl: '8d' });
      const never = await createPat(t.app, alice.session, { expires: null });
      expect((await exchange(t.app, long.key)).headers).not.toHaveProperty(HEADER);
      expect((await exchange(t.app, never.key)).headers).not.toHaveProperty(HEADER);
      t.clock.advance(DAY + SECOND);
      expect((await exchange(t.app, long.key)).headers[HEADER]).toBe(long.body.expires);
      expect((await exchange(t.app, never.key)).headers).not.toHaveProperty(HEADER);
    });

    it('follows the configured window (EXPIRY_WARNING)', async () => {
      const short = await createTestAuth(backend, { EXPIRY_WARNING: '1h' });
      try {
        const session = await login(short.app);
        const soon = await createPat(short.app, session, { ttl: '59m' });
        const later = await createPat(short.app, session, { ttl: '2h' });
        expect((await exchange(short.app, soon.key)).headers[HEADER]).toBe(soon.body.expires);
        expect((await exchange(short.app, later.key)).headers).not.toHaveProperty(HEADER);
      } finally {
        await short.close();
      }
    });
  });
});
