import request from 'supertest';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  ADMIN,
  BACKENDS,
  type TestAuth,
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
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const MISSING_ID = '00000000-0000-4000-8000-000000000000';

describe.each(BACKENDS)('roles and permissions (%s)', (backend) => {
  let t: TestAuth;
  let admin: string;

  beforeAll(async () => {
    t = await createTestAuth(backend);
  });
  afterAll(() => t.close());
  beforeEach(async () => {
    admin = await login(t.app);
  });

  const iso = (ms: number) => new Date(ms).toISOString();

  describe('POST /api/v1/users', () => {
    it('lets an admin create a user (201, no password in the answer) who can then log in', async () => {
      const res = await request(t.app).post('/api/v1/users').set(bearer(admin)).send({ email: 'New.Person@Example.test', password: 'a long enough password', role: 'read_only' });
      expect(res.status).toBe(201);
      expect(res.headers.location).toBe(`/api/v1/users/${res.body.id}`);
      expect(res.body).toEqual({
        id: expect.any(String),
        email: 'new.person@example.test',
        role: 'read_only',
        organization: expect.any(String),
        created_at: expect.any(String),
        updated_at: expect.any(String),
      });
      expect(res.text).not.toContain('a long enough password');
      expect(await login(t.app, 'new.person@example.test', 'a long enough password')).toEqual(expect.any(String));
    });

    it('makes a normal user when no role is given', async () => {
      const res = await request(t.app).post('/api/v1/users').set(bearer(admin)).send({ email: 'plain@example.test', password: 'a long enough password' });
      expect(res.body.role).toBe('normal');
    });

    it('refuses a second user with the same email, in any case: 409', async () => {
      const res = await request(t.app).post('/api/v1/users').set(bearer(admin)).send({ email: ADMIN.email.toUpperCase(), password: 'a long enough password' });
      expect(res.status).toBe(409);
      expect(res.body.code).toBe('conflict');
    });

    it.each([
      [{ email: 'not-an-email', password: 'a long enough password' }, 'email'],
      [{ email: 'short@example.test', password: 'short' }, 'password'],
      [{ email: 'role@example.test', password: 'a long enough password', role: 'owner' }, 'role'],
      [{ email: 'extra@example.test', password: 'a long enough password', admin: true }, 'admin'],
    ])('refuses %j: 400 validation_failed naming %s', async (body, field) => {
      const res = await request(t.app).post('/api/v1/users').set(bearer(admin)).send(body);
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('validation_failed');
      expect(detailPaths(res.body)).toContain(field);
    });

    it('answers 403 insufficient_scope to a normal user', async () => {
      const normal = await createUser(t.app, admin);
      const res = await request(t.app).post('/api/v1/users').set(bearer(normal.session)).send({ email: 'sneaky@example.test', password: 'a long enough password', role: 'admin' });
      expect(res.status).toBe(403);
      expect(res.body).toMatchObject({ code: 'insufficient_scope', message: 'This action needs the CreateUser permission' });
    });
  });

  describe('GET /api/v1/users', () => {
    it('lists the users of the organization to an admin, without password hashes', async () => {
      const normal = await createUser(t.app, admin);
      const res = await request(t.app).get('/api/v1/users').set(bearer(admin));
      expect(res.status).toBe(200);
      expect(rows<{ email: string }>(res.body).map((u) => u.email)).toEqual(expect.arrayContaining([ADMIN.email, normal.email]));
      expect(res.text).not.toMatch(/\$2[aby]\$/);
      expect(res.text).not.toContain('password');
    });

    it('does not list the users of another organization', async () => {
      const other = await createOrganization(t, 'Elsewhere');
      const res = await request(t.app).get('/api/v1/users').set(bearer(admin));
      expect(idsOf(res.body)).not.toContain(other.admin.id);
      expect((await request(t.app).get(`/api/v1/users/${other.admin.id}`).set(bearer(admin))).status).toBe(404);
    });

    it('answers 403 to a normal user; GET /api/v1/users/:id shows them only themselves', async () => {
      const normal = await createUser(t.app, admin);
      const other = await createUser(t.app, admin);
      expect((await request(t.app).get('/api/v1/users').set(bearer(normal.session))).status).toBe(403);
      expect((await request(t.app).get(`/api/v1/users/${normal.id}`).set(bearer(normal.session))).body.email).toBe(normal.email);
      expect((await request(t.app).get(`/api/v1/users/${other.id}`).set(bearer(normal.session))).status).toBe(404);
      expect((await request(t.app).get(`/api/v1/users/${other.id}`).set(bearer(admin))).status).toBe(200);
    });
  });

  describe('PATCH /api/v1/users/:id', () => {
    it("changes a user's email and password; the old password and its sessions stop working", async () => {
      const user = await createUser(t.app, admin);
      const res = await request(t.app).patch(`/api/v1/users/${user.id}`).set(bearer(admin)).send({ email: `moved-${user.email}`, password: 'a brand new password' });
      expect(res.status).toBe(200);
      expect(res.body.email).toBe(`moved-${user.email}`);
      expect((await request(t.app).get('/api/v1/organization').set(bearer(user.session))).status).toBe(401);
      await expect(login(t.app, user.email, user.password)).rejects.toThrow(/400/);
      t.clock.advance(SECOND);
      const fresh = await login(t.app, `moved-${user.email}`, 'a brand new password');
      expect((await request(t.app).get('/api/v1/organization').set(bearer(fresh))).status).toBe(200);
    });

    it("refuses another user's email: 409, changing nothing", async () => {
      const user = await createUser(t.app, admin);
      const other = await createUser(t.app, admin);
      const res = await request(t.app).patch(`/api/v1/users/${user.id}`).set(bearer(admin)).send({ email: other.email.toUpperCase() });
      expect(res.status).toBe(409);
      expect(res.body.code).toBe('conflict');
      expect((await request(t.app).get(`/api/v1/users/${user.id}`).set(bearer(admin))).body.email).toBe(user.email);
    });

    it('answers 403 to a normal user, even about themselves (no self-promotion)', async () => {
      const user = await createUser(t.app, admin);
      const res = await request(t.app).patch(`/api/v1/users/${user.id}`).set(bearer(user.session)).send({ role: 'admin' });
      expect(res.status).toBe(403);
      expect(res.body.code).toBe('insufficient_scope');
    });

    it('answers 404 for a missing user and 400 for unknown fields', async () => {
      expect((await request(t.app).patch(`/api/v1/users/${MISSING_ID}`).set(bearer(admin)).send({ role: 'normal' })).status).toBe(404);
      const user = await createUser(t.app, admin);
      const res = await request(t.app).patch(`/api/v1/users/${user.id}`).set(bearer(admin)).send({ organization: MISSING_ID });
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('validation_failed');
    });
  });

  describe('DELETE /api/v1/users/:id', () => {
    it('answers 204; the user can no longer log in, and their tokens and sessions end', async () => {
      const user = await createUser(t.app, admin);
      const pat = await createPat(t.app, user.session);
      const patSession = (await exchange(t.app, pat.key)).body.access_token as string;
      const view = await revocationView(t);
      try {
        expect((await request(t.app).delete(`/api/v1/users/${user.id}`).set(bearer(admin))).status).toBe(204);
        expect((await exchange(t.app, pat.key)).status).toBe(400);
        expect((await request(t.app).get('/api/v1/organization').set(bearer(patSession))).status).toBe(401);
        expect((await request(t.app).get('/api/v1/organization').set(bearer(user.session))).status).toBe(401);
        await expect(login(t.app, user.email, user.password)).rejects.toThrow(/400/);
        const all = idsOf((await request(t.app).get('/api/v1/api_tokens/all').set(bearer(admin))).body);
        expect(all).not.toContain(pat.id);
        // Gateways match revocations by PAT id: the user's tokens must be among the published entries.
        expect(view.isRevoked(claimsOf(patSession))).toBe(true);
        expect((await request(t.app).delete(`/api/v1/users/${user.id}`).set(bearer(admin))).status).toBe(404);
      } finally {
        await view.stop();
      }
    });

    it('answers 403 to a normal user', async () => {
      const user = await createUser(t.app, admin);
      const other = await createUser(t.app, admin);
      const res = await request(t.app).delete(`/api/v1/users/${other.id}`).set(bearer(user.session));
      expect(res.status).toBe(403);
      expect((await request(t.app).get(`/api/v1/users/${other.id}`).set(bearer(admin))).status).toBe(200);
    });
  });

  describe('the last admin', () => {
    it('cannot be demoted or deleted: 409; once another admin exists, they can', async () => {
      const org = await createOrganization(t, 'Solo');
      const only = org.admin;
      const demote = await request(t.app).patch(`/api/v1/users/${only.id}`).set(bearer(only.session)).send({ role: 'normal' });
      expect(demote.status).toBe(409);
      expect(demote.body).toMatchObject({ code: 'conflict', message: 'The organization must keep at least one admin' });
      const remove = await request(t.app).delete(`/api/v1/users/${only.id}`).set(bearer(only.session));
      expect(remove.status).toBe(409);
      expect((await request(t.app).get(`/api/v1/users/${only.id}`).set(bearer(only.session))).body.role).toBe('admin');

      const second = await createUser(t.app, only.session, 'admin');
      expect((await request(t.app).patch(`/api/v1/users/${only.id}`).set(bearer(second.session)).send({ role: 'normal' })).status).toBe(200);
      expect((await request(t.app).delete(`/api/v1/users/${second.id}`).set(bearer(second.session))).status).toBe(409);
    });

    it('survives two admins demoting or deleting each other at the same moment: exactly one change wins (409 for the other)', async () => {
      // Several rounds: without the lock, PostgreSQL let both requests through in most of them.
      for (let round = 0; round < 4; round++) {
        const org = await createOrganization(t, 'Race');
        const a = org.admin;
        const b = await createUser(t.app, a.session, 'admin');
        const [first, second] = await Promise.all([
          request(t.app).patch(`/api/v1/users/${b.id}`).set(bearer(a.session)).send({ role: 'normal' }),
          round % 2 === 0
            ? request(t.app).patch(`/api/v1/users/${a.id}`).set(bearer(b.session)).send({ role: 'read_only' })
            : request(t.app).delete(`/api/v1/users/${a.id}`).set(bearer(b.session)),
        ]);
        const admins = (await t.store.listUsers(org.id)).filter((u) => u.role === 'admin');
        expect(admins, `round ${round}: ${first.status} ${second.status}`).toHaveLength(1);
        // The loser was refused (409), or had already lost its admin rights (401/403) when it ran.
        expect([first.status, second.status].filter((s) => s === 200 || s === 204)).toHaveLength(1);
      }
    });
  });

  describe('GET /api/v1/organization', () => {
    it("answers the caller's organization, to every role", async () => {
      const normal = await createUser(t.app, admin, 'normal');
      const readOnly = await createUser(t.app, admin, 'read_only');
      const res = await request(t.app).get('/api/v1/organization').set(bearer(admin));
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        id: expect.any(String),
        name: 'Acme',
        max_token_lifetime_seconds: null,
        default_app_state: 'allow',
        created_at: expect.any(String),
        updated_at: expect.any(String),
      });
      const me = await request(t.app).get('/api/v1/users/me').set(bearer(admin));
      expect(res.body.id).toBe(me.body.organization);
      for (const session of [normal.session, readOnly.session]) {
        expect((await request(t.app).get('/api/v1/organization').set(bearer(session))).body.id).toBe(res.body.id);
      }
      const other = await createOrganization(t, 'Initech');
      const theirs = await request(t.app).get('/api/v1/organization').set(bearer(other.admin.session));
      expect(theirs.body).toMatchObject({ id: other.id, name: 'Initech' });
    });
  });

  describe('PATCH /api/v1/organization', () => {
    it('answers 403 to a normal user', async () => {
      const normal = await createUser(t.app, admin);
      const res = await request(t.app).patch('/api/v1/organization').set(bearer(normal.session)).send({ max_token_lifetime: '1h' });
      expect(res.status).toBe(403);
      expect(res.body).toMatchObject({ code: 'insufficient_scope', message: 'This action needs the UpdateOrganization permission' });
    });

    it.each([
      [{ max_token_lifetime: 'forever' }],
      [{ max_token_lifetime: 0 }],
      [{ max_token_lifetime: 1.5 }],
      [{ max_token_lifetime: '1500ms' }],
      [{ default_app_state: 'sometimes' }],
      [{ owner: 'me' }],
      [{ name: 'Acme\u0000' }],
    ])('refuses %j: 400 validation_failed', async (body) => {
      const res = await request(t.app).patch('/api/v1/organization').set(bearer(admin)).send(body);
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('validation_failed');
    });

    it('sets the maximum token lifetime as a duration or in seconds, and null removes it', async () => {
      const org = await createOrganization(t, 'Policy');
      const set = (body: object) => request(t.app).patch('/api/v1/organization').set(bearer(org.admin.session)).send(body);
      expect((await set({ max_token_lifetime: '30d' })).body.max_token_lifetime_seconds).toBe(30 * 86_400);
      expect((await set({ max_token_lifetime: 3600 })).body.max_token_lifetime_seconds).toBe(3600);
      expect((await request(t.app).get('/api/v1/organization').set(bearer(org.admin.session))).body.max_token_lifetime_seconds).toBe(3600);
      expect((await set({ max_token_lifetime: null })).body.max_token_lifetime_seconds).toBeNull();
      // The field GET answers is accepted back; both at once is ambiguous.
      expect((await set({ max_token_lifetime_seconds: 7200 })).body.max_token_lifetime_seconds).toBe(7200);
      expect((await set({ max_token_lifetime_seconds: null })).body.max_token_lifetime_seconds).toBeNull();
      const both = await set({ max_token_lifetime: '1h', max_token_lifetime_seconds: 3600 });
      expect([both.status, both.body.code]).toEqual([400, 'validation_failed']);
      expect((await set({ max_token_lifetime_seconds: '1h' })).status).toBe(400);
    });

    it('caps existing tokens that would outlive a new maximum lifetime, and ends their sessions', async () => {
      const org = await createOrganization(t, 'Capped');
      const gateway = await revocationView(t);
      try {
        const forever = await createPat(t.app, org.admin.session, { expires: null });
        const long = await createPat(t.app, org.admin.session, { ttl: '30d' });
        const short = await createPat(t.app, org.admin.session, { ttl: '10m' });
        const other = await createOrganization(t, 'Untouched');
        const elsewhere = await createPat(t.app, other.admin.session, { expires: null });
        const sessions = await Promise.all([forever, long, short].map(async (pat) => (await exchange(t.app, pat.key)).body.access_token as string));

        const res = await request(t.app).patch('/api/v1/organization').set(bearer(org.admin.session)).send({ max_token_lifetime: '1h' });
        expect(res.status).toBe(200);
        const expiresOf = async (session: string, id: string) => (await request(t.app).get(`/api/v1/api_tokens/${id}`).set(bearer(session))).body.expires as string | null;
        const cap = iso(t.clock() + HOUR);
        expect(await expiresOf(org.admin.session, forever.id)).toBe(cap);
        expect(await expiresOf(org.admin.session, long.id)).toBe(cap);
        expect(await expiresOf(org.admin.session, short.id)).toBe(short.body.expires); // already within it
        expect(await expiresOf(other.admin.session, elsewhere.id)).toBeNull(); // another organization's policy

        // Sessions of capped tokens end (they could outlive their token now); the untouched token's live on.
        expect(sessions.map((session) => gateway.isRevoked(claimsOf(session)))).toEqual([true, true, false]);
        t.clock.advance(SECOND);
        expect((await exchange(t.app, forever.key)).status).toBe(200); // the token itself works until the cap
        t.clock.advance(HOUR);
        expect((await exchange(t.app, forever.key)).status).toBe(400);

        const audit = await request(t.app).get('/api/v1/audit_events').set(bearer(org.admin.session));
        const entry = (audit.body.events as { action: string; detail: { cappedTokens?: string[] } }[]).find((e) => e.action === 'organization.updated');
        expect(entry?.detail.cappedTokens?.sort()).toEqual([forever.id, long.id].sort());
      } finally {
        await gateway.stop();
      }
    });

    it('refuses token creation and edits beyond the maximum lifetime: 400', async () => {
      const org = await createOrganization(t, 'Strict');
      const session = org.admin.session;
      await request(t.app).patch('/api/v1/organization').set(bearer(session)).send({ max_token_lifetime: '24h' }).expect(200);
      const create = (body: object) => request(t.app).post('/api/v1/api_tokens').set(bearer(session)).send({ name: 'p', ...body });

      for (const body of [{ ttl: '25h' }, { expires: null }, { expires: iso(t.clock() + 2 * DAY) }]) {
        const res = await create(body);
        expect(res.status, JSON.stringify(body)).toBe(400);
        expect(res.body).toMatchObject({ code: 'validation_failed', message: expect.stringContaining('at most 86400 seconds') });
      }
      const within = await create({ ttl: '24h' });
      expect(within.status).toBe(201);
      // The 72-hour default does not fit: it is cut to the policy rather than refused.
      expect((await create({})).body.expires).toBe(iso(t.clock() + DAY));

      const id = within.body.id as string;
      for (const body of [{ expires: null }, { ttl: '48h' }]) {
        const res = await request(t.app).patch(`/api/v1/api_tokens/${id}`).set(bearer(session)).send(body);
        expect(res.status, JSON.stringify(body)).toBe(400);
        expect(res.body.code).toBe('validation_failed');
      }
      expect((await request(t.app).patch(`/api/v1/api_tokens/${id}`).set(bearer(session)).send({ ttl: '1h' })).status).toBe(200);
    });

    it("sets the default application state new tokens start with", async () => {
      const org = await createOrganization(t, 'Careful');
      const res = await request(t.app).patch('/api/v1/organization').set(bearer(org.admin.session)).send({ default_app_state: 'pending' });
      expect(res.status).toBe(200);
      expect(res.body.default_app_state).toBe('pending');
      const pat = await createPat(t.app, org.admin.session);
      expect(pat.body.default_app_state).toBe('pending');
      const denied = await request(t.app).post('/auth/v1/token').type('form').send({ pat: pat.key, app: 'new-app' });
      expect(denied.status).toBe(401);
      expect(denied.body.error).toBe('authorization_pending');
    });

    it("does not let a non-admin loosen the organization's default application state for their token", async () => {
      const org = await createOrganization(t, 'Guarded');
      await request(t.app).patch('/api/v1/organization').set(bearer(org.admin.session)).send({ default_app_state: 'pending' }).expect(200);
      const normal = await createUser(t.app, org.admin.session, 'normal');
      const loose = await request(t.app).post('/api/v1/api_tokens').set(bearer(normal.session)).send({ name: 'x', default_app_state: 'allow' });
      expect(loose.status).toBe(403);
      expect(loose.body).toMatchObject({ code: 'forbidden', message: expect.stringContaining('pending') });
      const strict = await createPat(t.app, normal.session, { default_app_state: 'deny' });
      const edit = await request(t.app).patch(`/api/v1/api_tokens/${strict.id}`).set(bearer(normal.session)).send({ default_app_state: 'allow' });
      expect(edit.status).toBe(403);
      expect((await request(t.app).post('/api/v1/api_tokens').set(bearer(org.admin.session)).send({ name: 'x', default_app_state: 'allow' })).status).toBe(201);
    });
  });

  describe('granting permissions', () => {
    it('refuses a normal user creating an account token: 403 with a clear message', async () => {
      const normal = await createUser(t.app, admin);
      const res = await request(t.app).post('/api/v1/api_tokens').set(bearer(normal.session)).send({ name: 'acct', kind: 'account' });
      expect(res.status).toBe(403);
      expect(res.body).toMatchObject({ code: 'forbidden', message: 'Only admins can create account tokens' });
      expect(rows<{ name: string }>((await request(t.app).get('/api/v1/api_tokens/all').set(bearer(admin))).body).filter((tok) => tok.name === 'acct')).toEqual([]);
    });

    it('refuses to grant more than the role allows, on creation and on edit: 403 naming what', async () => {
      const normal = await createUser(t.app, admin);
      const res = await request(t.app).post('/api/v1/api_tokens').set(bearer(normal.session)).send({ name: 'x', permissions: ['GetOrganization', 'ListUsers', 'DeleteUser'] });
      expect(res.status).toBe(403);
      expect(res.body).toMatchObject({ code: 'forbidden', message: 'Your role (normal) and session cannot grant: ListUsers, DeleteUser' });

      const pat = await createPat(t.app, normal.session, { permissions: ['GetOrganization'] });
      const edit = await request(t.app).patch(`/api/v1/api_tokens/${pat.id}`).set(bearer(normal.session)).send({ permissions: ['ListAuditEvents'] });
      expect(edit.status).toBe(403);
      expect(edit.body.message).toContain('ListAuditEvents');
      expect((await request(t.app).get(`/api/v1/api_tokens/${pat.id}`).set(bearer(normal.session))).body.permissions).toEqual(['GetOrganization']);

      const byAdmin = await createPat(t.app, admin, { permissions: ['ListUsers', 'DeleteUser'] });
      expect(byAdmin.body.permissions).toEqual(['ListUsers', 'DeleteUser']);
    });

    it('refuses to grant more than the session acting holds', async () => {
      const normal = await createUser(t.app, admin);
      const narrow = await createPat(t.app, normal.session, { permissions: ['CreateAPIToken', 'orders:read'] });
      const session = (await exchange(t.app, narrow.key)).body.access_token as string;
      const res = await request(t.app).post('/api/v1/api_tokens').set(bearer(session)).send({ name: 'x', permissions: ['orders:write'] });
      expect(res.status).toBe(403);
      expect(res.body.message).toContain('orders:write');
      const star = await request(t.app).post('/api/v1/api_tokens').set(bearer(session)).send({ name: 'x', permissions: ['*'] });
      expect(star.status).toBe(403);
      const subset = await request(t.app).post('/api/v1/api_tokens').set(bearer(session)).send({ name: 'x', permissions: ['orders:read'] });
      expect(subset.status).toBe(201);
    });

    it('defaults a token created from a narrower session to that session’s permissions', async () => {
      const normal = await createUser(t.app, admin);
      const narrow = await createPat(t.app, normal.session, { permissions: ['CreateAPIToken', 'orders:read'] });
      const session = (await exchange(t.app, narrow.key)).body.access_token as string;
      const res = await request(t.app).post('/api/v1/api_tokens').set(bearer(session)).send({ name: 'child' });
      expect(res.status).toBe(201);
      expect(res.body.permissions).toEqual(['CreateAPIToken', 'orders:read']);
    });

    it('refuses malformed permission strings: 400 validation_failed', async () => {
      const res = await request(t.app).post('/api/v1/api_tokens').set(bearer(admin)).send({ name: 'x', permissions: ['orders read'] });
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('validation_failed');
    });
  });

  describe('read_only users', () => {
    it('may look (organization, own tokens) but not create, edit or delete tokens: 403', async () => {
      const user = await createUser(t.app, admin, 'normal');
      const pat = await createPat(t.app, user.session);
      await request(t.app).patch(`/api/v1/users/${user.id}`).set(bearer(admin)).send({ role: 'read_only' }).expect(200);
      t.clock.advance(SECOND);
      const session = await login(t.app, user.email, user.password);

      expect((await request(t.app).get('/api/v1/organization').set(bearer(session))).status).toBe(200);
      expect(idsOf((await request(t.app).get('/api/v1/api_tokens').set(bearer(session))).body)).toEqual([pat.id]);
      expect((await request(t.app).get(`/api/v1/api_tokens/${pat.id}`).set(bearer(session))).status).toBe(200);
      const refusals = [
        [request(t.app).post('/api/v1/api_tokens').set(bearer(session)).send({ name: 'x' }), 'CreateAPIToken'],
        [request(t.app).patch(`/api/v1/api_tokens/${pat.id}`).set(bearer(session)).send({ description: 'x' }), 'UpdateAPIToken'],
        [request(t.app).delete(`/api/v1/api_tokens/${pat.id}`).set(bearer(session)), 'DeleteAPIToken'],
        [request(t.app).post(`/api/v1/api_tokens/${pat.id}/rotate`).set(bearer(session)), 'RotateAPIToken'],
        [request(t.app).post(`/api/v1/api_tokens/${pat.id}/retire`).set(bearer(session)), 'RetireAPIToken'],
      ] as const;
      for (const [call, permission] of refusals) {
        const res = await call;
        expect(res.status, permission).toBe(403);
        expect(res.body).toMatchObject({ code: 'insufficient_scope', message: `This action needs the ${permission} permission` });
      }
      expect((await request(t.app).get(`/api/v1/api_tokens/${pat.id}`).set(bearer(session))).body).toMatchObject({ description: '', retired: false });
    });
  });

  describe('every management endpoint requires its permission', () => {
    const endpoints: [string, string, string, object | undefined, number][] = [
      ['get', '/api/v1/organization', 'GetOrganization', undefined, 200],
      ['patch', '/api/v1/organization', 'UpdateOrganization', {}, 200],
      ['get', '/api/v1/api_tokens', 'ListAPITokens', undefined, 200],
      ['get', '/api/v1/api_tokens/all', 'ListAllAPITokens', undefined, 200],
      ['post', '/api/v1/api_tokens', 'CreateAPIToken', { bogus: true }, 400],
      ['get', `/api/v1/api_tokens/${MISSING_ID}`, 'GetAPIToken', undefined, 404],
      ['patch', `/api/v1/api_tokens/${MISSING_ID}`, 'UpdateAPIToken', {}, 404],
      ['delete', `/api/v1/api_tokens/${MISSING_ID}`, 'DeleteAPIToken', undefined, 404],
      ['post', `/api/v1/api_tokens/${MISSING_ID}/retire`, 'RetireAPIToken', undefined, 404],
      ['post', `/api/v1/api_tokens/${MISSING_ID}/rotate`, 'RotateAPIToken', undefined, 404],
      ['post', `/api/v1/api_tokens/${MISSING_ID}/promote`, 'PromoteAPIToken', undefined, 404],
      ['get', `/api/v1/api_tokens/${MISSING_ID}/applications`, 'ListApplications', undefined, 404],
      ['patch', `/api/v1/api_tokens/${MISSING_ID}/applications/ci`, 'DecideApplication', { state: 'allow' }, 404],
      ['get', '/api/v1/users', 'ListUsers', undefined, 200],
      ['get', `/api/v1/users/${MISSING_ID}`, 'GetUser', undefined, 404],
      ['post', '/api/v1/users', 'CreateUser', {}, 400],
      ['patch', `/api/v1/users/${MISSING_ID}`, 'UpdateUser', {}, 404],
      ['delete', `/api/v1/users/${MISSING_ID}`, 'DeleteUser', undefined, 404],
      ['get', '/api/v1/audit_events', 'ListAuditEvents', undefined, 200],
    ];

    it.each(endpoints)('%s %s needs %s', async (method, path, permission, body, allowedStatus) => {
      const call = async (permissions: string[]) => {
        const pat = await createPat(t.app, admin, { permissions });
        const session = (await exchange(t.app, pat.key)).body.access_token as string;
        const req = request(t.app)[method as 'get' | 'post' | 'patch' | 'delete'](path).set(bearer(session));
        return body === undefined ? req : req.send(body);
      };
      const other = permission === 'GetOrganization' ? 'ListAPITokens' : 'GetOrganization';
      const without = await call([other, 'orders:read']);
      expect(without.status).toBe(403);
      expect(without.body).toMatchObject({ code: 'insufficient_scope', message: `This action needs the ${permission} permission` });
      expect(without.headers['www-authenticate']).toContain(`scope="${permission}"`);
      expect((await call([permission])).status).toBe(allowedStatus);
      expect((await call(['*'])).status).toBe(allowedStatus);
    });

    it('POST /auth/v1/introspect needs IntrospectToken', async () => {
      const call = async (permissions: string[]) => {
        const pat = await createPat(t.app, admin, { permissions });
        const session = (await exchange(t.app, pat.key)).body.access_token as string;
        return request(t.app).post('/auth/v1/introspect').type('form').set(bearer(session)).send({ token: 'garbage' });
      };
      const without = await call(['GetOrganization']);
      expect(without.status).toBe(403);
      expect(without.body.error).toBe('insufficient_scope');
      expect((await call(['IntrospectToken'])).body).toEqual({ active: false });
    });
  });

  describe("a token's effective permissions: its own ∩ what the owner's role allows now", () => {
    it('applies a role change on the very next call, even to a session minted before it', async () => {
      const user = await createUser(t.app, admin, 'normal');
      const pat = await createPat(t.app, user.session, { permissions: ['GetOrganization', 'CreateAPIToken'] });
      const session = (await exchange(t.app, pat.key)).body.access_token as string;
      // Straight in the store, so no revocation is published: the role is read at every use.
      await t.store.updateUser(user.id, { role: 'read_only' });
      expect((await request(t.app).get('/api/v1/organization').set(bearer(session))).status).toBe(200);
      const res = await request(t.app).post('/api/v1/api_tokens').set(bearer(session)).send({ name: 'x' });
      expect(res.status).toBe(403);
      expect(res.body.code).toBe('insufficient_scope');
    });

    it('demoting a user revokes their sessions (401) and their next exchange yields the narrower scope', async () => {
      const user = await createUser(t.app, admin, 'normal');
      const pat = await createPat(t.app, user.session, { permissions: ['GetOrganization', 'CreateAPIToken', 'ListAPITokens', 'orders:write'] });
      const before = await exchange(t.app, pat.key);
      expect(before.body.scope).toBe('GetOrganization CreateAPIToken ListAPITokens orders:write');
      const view = await revocationView(t);
      try {
        const res = await request(t.app).patch(`/api/v1/users/${user.id}`).set(bearer(admin)).send({ role: 'read_only' });
        expect(res.status).toBe(200);
        expect(res.body.role).toBe('read_only');
        expect((await request(t.app).get('/api/v1/organization').set(bearer(before.body.access_token))).status).toBe(401);
        expect((await request(t.app).get('/api/v1/organization').set(bearer(user.session))).status).toBe(401);
        // What a gateway sees: the PAT's sessions are revoked, not only the user's subject id.
        expect(view.isRevoked(claimsOf(before.body.access_token))).toBe(true);

        // Revocations cover sessions issued up to their second: the next exchange comes a second later.
        t.clock.advance(SECOND);
        const after = await exchange(t.app, pat.key);
        expect(after.status).toBe(200);
        expect(after.body.scope).toBe('GetOrganization ListAPITokens orders:write');
        expect(view.isRevoked(claimsOf(after.body.access_token))).toBe(false);
        expect((await request(t.app).get('/api/v1/api_tokens').set(bearer(after.body.access_token))).status).toBe(200);
        expect((await request(t.app).post('/api/v1/api_tokens').set(bearer(after.body.access_token)).send({ name: 'x' })).status).toBe(403);
        const scoped = await request(t.app).post('/auth/v1/token').type('form').send({
          grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
          subject_token: pat.key,
          subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
          scope: 'CreateAPIToken',
        });
        expect(scoped.status).toBe(400);
        expect(scoped.body.error).toBe('invalid_scope');
      } finally {
        await view.stop();
      }
    });

    it("an admin demoted to normal keeps their '*' token, which loses the admin actions", async () => {
      const second = await createUser(t.app, admin, 'admin');
      const pat = await createPat(t.app, second.session);
      const session = (await exchange(t.app, pat.key)).body.access_token as string;
      expect((await request(t.app).get('/api/v1/users').set(bearer(session))).status).toBe(200);
      await request(t.app).patch(`/api/v1/users/${second.id}`).set(bearer(admin)).send({ role: 'normal' }).expect(200);
      expect((await request(t.app).get('/api/v1/users').set(bearer(session))).status).toBe(401);
      t.clock.advance(SECOND);
      const fresh = (await exchange(t.app, pat.key)).body.access_token as string;
      expect((await request(t.app).get('/api/v1/users').set(bearer(fresh))).status).toBe(403);
      expect((await request(t.app).get('/api/v1/api_tokens').set(bearer(fresh))).status).toBe(200);
    });

    it('promoting a user does not revoke anything and widens what their tokens may do', async () => {
      const user = await createUser(t.app, admin, 'normal');
      const pat = await createPat(t.app, user.session);
      const session = (await exchange(t.app, pat.key)).body.access_token as string;
      expect((await request(t.app).get('/api/v1/users').set(bearer(session))).status).toBe(403);
      await request(t.app).patch(`/api/v1/users/${user.id}`).set(bearer(admin)).send({ role: 'admin' }).expect(200);
      expect((await request(t.app).get('/api/v1/users').set(bearer(session))).status).toBe(200);
    });
  });
});
