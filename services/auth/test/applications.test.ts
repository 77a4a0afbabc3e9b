import request from 'supertest';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  BACKENDS,
  type TestAuth,
  type TestUser,
  bearer,
  claimsOf,
  createPat,
  createTestAuth,
  createUser,
  login,
  revocationView,
  rows,
} from './harness.js';

const SECOND = 1000;

describe.each(BACKENDS)('applications (%s)', (backend) => {
  let t: TestAuth;
  let admin: string;
  let owner: TestUser;

  beforeAll(async () => {
    t = await createTestAuth(backend);
    admin = await login(t.app);
    owner = await createUser(t.app, admin, 'normal', 'owner');
  });
  afterAll(() => t.close());
  beforeEach(async () => {
    admin = await login(t.app);
    owner.session = await login(t.app, owner.email, owner.password);
  });

  /** An exchange naming an application, by form field (the default) or by the X-App-Name header. */
  const exchangeFor = (pat: string, app: string, via: 'field' | 'header' = 'field') => {
    const req = request(t.app).post('/auth/v1/token').type('form');
    return via === 'field' ? req.send({ pat, app }) : req.set('X-App-Name', app).send({ pat });
  };
  const applications = (session: string, id: string) => request(t.app).get(`/api/v1/api_tokens/${id}/applications`).set(bearer(session));
  const decide = (session: string, id: string, app: string, state: string) =>
    request(t.app).patch(`/api/v1/api_tokens/${id}/applications/${encodeURIComponent(app)}`).set(bearer(session)).send({ state });

  describe('POST /auth/v1/token with an application name', () => {
    it.each(['field', 'header'] as const)('passes under default_app_state allow (app by %s), records the app, and names it in the session', async (via) => {
      const pat = await createPat(t.app, owner.session, { default_app_state: 'allow' });
      const res = await exchangeFor(pat.key, 'deploy-bot', via);
      expect(res.status).toBe(200);
      expect(claimsOf(res.body.access_token)).toMatchObject({ tid: pat.id, app: 'deploy-bot' });
      const listed = await applications(owner.session, pat.id);
      expect(listed.status).toBe(200);
      expect(listed.body).toEqual([{ name: 'deploy-bot', state: 'allow', first_seen_at: expect.any(String), decided_at: null, decided_by: null }]);
    });

    it('answers 401 authorization_pending under pending, saying an admin must decide, and records the app', async () => {
      const pat = await createPat(t.app, owner.session, { default_app_state: 'pending' });
      const res = await exchangeFor(pat.key, 'ci');
      expect(res.status).toBe(401);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.body).toEqual({
        error: 'authorization_pending',
        error_description: 'Application "ci" is waiting for an administrator to allow it for this token',
        requestId: expect.any(String),
      });
      expect((await applications(owner.session, pat.id)).body).toMatchObject([{ name: 'ci', state: 'pending' }]);
      // Asking again changes nothing until someone decides.
      expect((await exchangeFor(pat.key, 'ci', 'header')).status).toBe(401);
    });

    it('answers 403 access_denied under deny, saying an admin must allow it', async () => {
      const pat = await createPat(t.app, owner.session, { default_app_state: 'deny' });
      const res = await exchangeFor(pat.key, 'scraper');
      expect(res.status).toBe(403);
      expect(res.body).toEqual({
        error: 'access_denied',
        error_description: 'Application "scraper" is denied for this token; an administrator must allow it',
        requestId: expect.any(String),
      });
      expect((await applications(owner.session, pat.id)).body).toMatchObject([{ name: 'scraper', state: 'deny' }]);
    });

    it('applies the default to each new application separately; no app named means no check', async () => {
      const pat = await createPat(t.app, owner.session, { default_app_state: 'pending' });
      await decide(admin, pat.id, 'known', 'allow').expect(200);
      expect((await exchangeFor(pat.key, 'known')).status).toBe(200);
      expect((await exchangeFor(pat.key, 'unknown')).status).toBe(401);
      expect((await request(t.app).post('/auth/v1/token').type('form').send({ pat: pat.key })).status).toBe(200);
      const names = rows<{ name: string }>((await applications(owner.session, pat.id)).body).map((a) => a.name);
      expect(names.sort()).toEqual(['known', 'unknown']);
    });

    it('refuses a malformed application name: 400 invalid_request, recording nothing', async () => {
      const pat = await createPat(t.app, owner.session);
      for (const app of ['', ' leading-space', 'a'.repeat(65), 'semi;colon']) {
        const res = await exchangeFor(pat.key, app);
        expect(res.status, JSON.stringify(app)).toBe(400);
        expect(res.body.error).toBe('invalid_request');
      }
      expect((await applications(owner.session, pat.id)).body).toEqual([]);
    });

    it('checks the PAT before the application: a bad PAT never records an app', async () => {
      const pat = await createPat(t.app, owner.session, { default_app_state: 'pending' });
      await request(t.app).patch(`/api/v1/api_tokens/${pat.id}`).set(bearer(owner.session)).send({ enabled: false }).expect(200);
      const res = await exchangeFor(pat.key, 'ci');
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_grant');
      expect((await applications(owner.session, pat.id)).body).toEqual([]);
    });
  });

  describe('GET /api/v1/api_tokens/:id/applications', () => {
    it("answers 404 to another user for someone else's token, and lists them to admins", async () => {
      const pat = await createPat(t.app, owner.session);
      await exchangeFor(pat.key, 'ci').expect(200);
      const stranger = await createUser(t.app, admin);
      expect((await applications(stranger.session, pat.id)).status).toBe(404);
      expect((await applications(admin, pat.id)).body).toMatchObject([{ name: 'ci', state: 'allow' }]);
    });
  });

  describe('PATCH /api/v1/api_tokens/:id/applications/:name', () => {
    it('lets an admin allow a pending application: the next exchange passes', async () => {
      const pat = await createPat(t.app, owner.session, { default_app_state: 'pending' });
      expect((await exchangeFor(pat.key, 'ci')).status).toBe(401);
      const res = await decide(admin, pat.id, 'ci', 'allow');
      expect(res.status).toBe(200);
      const adminId = (await request(t.app).get('/api/v1/users/me').set(bearer(admin))).body.id as string;
      expect(res.body).toEqual({ name: 'ci', state: 'allow', first_seen_at: expect.any(String), decided_at: expect.any(String), decided_by: adminId });
      const ok = await exchangeFor(pat.key, 'ci');
      expect(ok.status).toBe(200);
      expect(claimsOf(ok.body.access_token).app).toBe('ci');
    });

    it('lets an admin allow a denied application, and deny an allowed one', async () => {
      const pat = await createPat(t.app, owner.session, { default_app_state: 'deny' });
      expect((await exchangeFor(pat.key, 'ci')).status).toBe(403);
      await decide(admin, pat.id, 'ci', 'allow').expect(200);
      expect((await exchangeFor(pat.key, 'ci')).status).toBe(200);
      await decide(admin, pat.id, 'ci', 'deny').expect(200);
      expect((await exchangeFor(pat.key, 'ci')).status).toBe(403);
    });

    it('decides an application before its first use', async () => {
      const pat = await createPat(t.app, owner.session, { default_app_state: 'allow' });
      await decide(admin, pat.id, 'never-this-one', 'deny').expect(200);
      expect((await exchangeFor(pat.key, 'never-this-one')).status).toBe(403);
      expect((await exchangeFor(pat.key, 'another')).status).toBe(200);
    });

    it("answers 403 insufficient_scope to the token's own (normal) owner", async () => {
      const pat = await createPat(t.app, owner.session, { default_app_state: 'pending' });
      expect((await exchangeFor(pat.key, 'ci')).status).toBe(401);
      const res = await decide(owner.session, pat.id, 'ci', 'allow');
      expect(res.status).toBe(403);
      expect(res.body).toMatchObject({ code: 'insufficient_scope', message: 'This action needs the DecideApplication permission' });
      expect((await exchangeFor(pat.key, 'ci')).status).toBe(401);
    });

    it('refuses states other than allow and deny: 400 validation_failed', async () => {
      const pat = await createPat(t.app, owner.session);
      for (const state of ['pending', 'maybe', '']) {
        const res = await decide(admin, pat.id, 'ci', state);
        expect(res.status, state).toBe(400);
        expect(res.body.code).toBe('validation_failed');
      }
    });

    it('answers 404 for a token that does not exist', async () => {
      expect((await decide(admin, '00000000-0000-4000-8000-000000000000', 'ci', 'allow')).status).toBe(404);
    });

    it('denying an application revokes the sessions issued to it, and only those', async () => {
      const pat = await createPat(t.app, owner.session);
      const toCi = (await exchangeFor(pat.key, 'ci')).body.access_token as string;
      const toOther = (await exchangeFor(pat.key, 'other')).body.access_token as string;
      const toNone = (await request(t.app).post('/auth/v1/token').type('form').send({ pat: pat.key })).body.access_token as string;
      const view = await revocationView(t);
      try {
        await decide(admin, pat.id, 'ci', 'deny').expect(200);

        const revoked = (jwt: string) => {
          const c = claimsOf(jwt);
          return t.store.isSessionRevoked({ jti: c.jti, tid: c.tid, sub: c.sub, app: c.app, iatMs: c.iat * 1000 });
        };
        expect(await revoked(toCi)).toBe(true);
        expect(await revoked(toOther)).toBe(false);
        expect(await revoked(toNone)).toBe(false);

        const introspect = (token: string) => request(t.app).post('/auth/v1/introspect').type('form').set(bearer(admin)).send({ token });
        expect((await introspect(toCi)).body).toEqual({ active: false });
        expect((await introspect(toOther)).body).toMatchObject({ active: true, app: 'other' });
        expect((await introspect(toNone)).body.active).toBe(true);

        expect((await request(t.app).get('/api/v1/api_tokens').set(bearer(toCi))).status).toBe(401);
        expect((await request(t.app).get('/api/v1/api_tokens').set(bearer(toOther))).status).toBe(200);

        // The gateways' view, through the revocation bus.
        expect(view.isRevoked(claimsOf(toCi))).toBe(true);
        expect(view.isRevoked(claimsOf(toOther))).toBe(false);
        expect(view.isRevoked(claimsOf(toNone))).toBe(false);

        expect((await exchangeFor(pat.key, 'ci')).status).toBe(403);
      } finally {
        await view.stop();
      }
    });

    it('allowing a denied application again lets new sessions through', async () => {
      const pat = await createPat(t.app, owner.session);
      await exchangeFor(pat.key, 'ci').expect(200);
      await decide(admin, pat.id, 'ci', 'deny').expect(200);
      // The denial covers sessions issued up to its second (JWT iat has whole seconds).
      t.clock.advance(SECOND);
      await decide(admin, pat.id, 'ci', 'allow').expect(200);
      const res = await exchangeFor(pat.key, 'ci');
      expect(res.status).toBe(200);
      expect((await request(t.app).get('/api/v1/api_tokens').set(bearer(res.body.access_token))).status).toBe(200);
    });
  });
});
