import { formatPat, parsePat, randomBase62, SECRET_LENGTH } from '@portcullis/token';
import request from 'supertest';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  ADMIN,
  BACKENDS,
  type TestAuth,
  bearer,
  createOrganization,
  createPat,
  createTestAuth,
  createUser,
  login,
  rows,
} from './harness.js';

interface AuditEventView {
  id: string;
  at: string;
  actor: string | null;
  action: string;
  target_type: string | null;
  target_id: string | null;
  ip: string | null;
  detail: Record<string, unknown>;
}

/** A key with the right lookup id (so it finds the token) and a wrong secret, with a valid checksum. */
function forgedKey(key: string): string {
  const parsed = parsePat(key);
  if (!parsed.ok) throw new Error('not a PAT');
  return formatPat('pcl_', parsed.pat.lookupId, randomBase62(SECRET_LENGTH));
}

describe.each(BACKENDS)('GET /api/v1/audit_events (%s)', (backend) => {
  let t: TestAuth;
  let admin: string;
  let adminId: string;
  const ADMIN_IP = '198.51.100.23';
  const CLIENT_IP = '203.0.113.50';

  beforeAll(async () => {
    t = await createTestAuth(backend);
    admin = await login(t.app);
    adminId = (await request(t.app).get('/api/v1/users/me').set(bearer(admin))).body.id as string;
  });
  afterAll(() => t.close());
  beforeEach(async () => {
    admin = await login(t.app);
  });

  /** A management call by the admin, from ADMIN_IP. */
  const asAdmin = (method: 'get' | 'post' | 'patch' | 'delete', path: string, body?: object) => {
    const req = request(t.app)[method](path).set(bearer(admin)).set('X-Forwarded-For', ADMIN_IP);
    return body === undefined ? req : req.send(body);
  };
  const exchangeFrom = (ip: string, fields: Record<string, string>) =>
    request(t.app).post('/auth/v1/token').type('form').set('X-Forwarded-For', ip).send(fields);

  /** Every event, following `next` page by page. */
  async function allEvents(session: string, limit = 200): Promise<AuditEventView[]> {
    const events: AuditEventView[] = [];
    let next: string | null = `/api/v1/audit_events?limit=${limit}`;
    while (next) {
      const res = await request(t.app).get(next).set(bearer(session));
      expect(res.status).toBe(200);
      events.push(...(res.body.events as AuditEventView[]));
      next = res.body.next as string | null;
    }
    return events;
  }

  it('answers 403 insufficient_scope to normal and read-only users, and 401 without a session', async () => {
    for (const role of ['normal', 'read_only'] as const) {
      const user = await createUser(t.app, admin, role);
      const res = await request(t.app).get('/api/v1/audit_events').set(bearer(user.session));
      expect(res.status, role).toBe(403);
      expect(res.body).toMatchObject({ code: 'insufficient_scope', message: 'This action needs the ListAuditEvents permission' });
    }
    expect((await request(t.app).get('/api/v1/audit_events')).status).toBe(401);
  });

  it('records every lifecycle action with who, what, when and from which IP, newest first', async () => {
    const user = (await asAdmin('post', '/api/v1/users', { email: 'audited@example.test', password: 'a long enough password' })).body.id as string;
    await asAdmin('patch', `/api/v1/users/${user}`, { role: 'read_only' }).expect(200);
    const pat = (await asAdmin('post', '/api/v1/api_tokens', { name: 'audited' })).body as { id: string; key: string };
    await asAdmin('patch', `/api/v1/api_tokens/${pat.id}`, { description: 'changed' }).expect(200);
    await asAdmin('patch', `/api/v1/api_tokens/${pat.id}`, { enabled: false }).expect(200);
    await exchangeFrom(CLIENT_IP, { pat: pat.key }).expect(400);
    await asAdmin('patch', `/api/v1/api_tokens/${pat.id}`, { enabled: true }).expect(200);
    const rotatedKey = (await asAdmin('post', `/api/v1/api_tokens/${pat.id}/rotate`)).body.key as string;
    await asAdmin('post', `/api/v1/api_tokens/${pat.id}/promote`).expect(200);
    await asAdmin('patch', `/api/v1/api_tokens/${pat.id}/applications/ci`, { state: 'deny' }).expect(200);
    await exchangeFrom(CLIENT_IP, { pat: rotatedKey, app: 'ci' }).expect(403);
    await asAdmin('post', `/api/v1/api_tokens/${pat.id}/retire`).expect(200);
    const doomed = (await asAdmin('post', '/api/v1/api_tokens', { name: 'doomed' })).body.id as string;
    await asAdmin('delete', `/api/v1/api_tokens/${doomed}`).expect(204);
    const orgId = (await asAdmin('patch', '/api/v1/organization', { default_app_state: 'allow' })).body.id as string;
    await asAdmin('delete', `/api/v1/users/${user}`).expect(204);

    const expected: [string, string, string | null][] = [
      ['user.created', user, adminId],
      ['user.changed', user, adminId],
      ['token.created', pat.id, adminId],
      ['token.updated', pat.id, adminId],
      ['token.disabled', pat.id, adminId],
      ['exchange.denied', pat.id, null],
      ['token.enabled', pat.id, adminId],
      ['token.rotated', pat.id, adminId],
      ['token.promoted', pat.id, adminId],
      ['application.decided', pat.id, adminId],
      ['exchange.denied', pat.id, null],
      ['token.retired', pat.id, adminId],
      ['token.created', doomed, adminId],
      ['token.deleted', doomed, adminId],
      ['organization.updated', orgId, adminId],
      ['user.deleted', user, adminId],
    ];
    const ours = (await allEvents(admin)).filter((e) => [user, pat.id, doomed, orgId].includes(e.target_id ?? ''));
    expect(ours.map((e) => [e.action, e.target_id, e.actor])).toEqual([...expected].reverse());

    for (const event of ours) {
      expect(event.ip, event.action).toBe(event.action === 'exchange.denied' ? CLIENT_IP : ADMIN_IP);
      expect(Number.isNaN(Date.parse(event.at))).toBe(false);
    }
    const denied = ours.filter((e) => e.action === 'exchange.denied').map((e) => e.detail);
    expect(denied).toEqual([{ reason: 'application_denied', app: 'ci' }, { reason: 'disabled' }]);
    expect(ours.find((e) => e.action === 'application.decided')!.detail).toEqual({ application: 'ci', state: 'deny' });
    expect(ours.find((e) => e.action === 'user.changed')!.detail).toMatchObject({ role: { from: 'normal', to: 'read_only' } });
  });

  it('records why an exchange was denied: wrong secret, disabled, expired, retired, pending application', async () => {
    const ip = '203.0.113.77';
    const wrong = await createPat(t.app, admin);
    const disabled = await createPat(t.app, admin);
    const expiring = await createPat(t.app, admin, { ttl: '10s' });
    const retired = await createPat(t.app, admin);
    const pending = await createPat(t.app, admin, { default_app_state: 'pending' });
    await request(t.app).patch(`/api/v1/api_tokens/${disabled.id}`).set(bearer(admin)).send({ enabled: false }).expect(200);
    await request(t.app).post(`/api/v1/api_tokens/${retired.id}/retire`).set(bearer(admin)).expect(200);
    t.clock.advance(10_000);
    admin = await login(t.app);

    await exchangeFrom(ip, { pat: forgedKey(wrong.key) }).expect(400);
    await exchangeFrom(ip, { pat: disabled.key }).expect(400);
    await exchangeFrom(ip, { pat: expiring.key }).expect(400);
    await exchangeFrom(ip, { pat: retired.key }).expect(400);
    await exchangeFrom(ip, { pat: pending.key, app: 'new-app' }).expect(401);

    const events = (await allEvents(admin)).filter((e) => e.action === 'exchange.denied' && e.ip === ip);
    const reasons = Object.fromEntries(events.map((e) => [e.target_id, e.detail]));
    expect(reasons).toEqual({
      [wrong.id]: { reason: 'secret' },
      [disabled.id]: { reason: 'disabled' },
      [expiring.id]: { reason: 'expired' },
      [retired.id]: { reason: 'retired' },
      [pending.id]: { reason: 'application_pending', app: 'new-app' },
    });
  });

  it('pages newest first through `next`, each page after the last one, ending with next: null', async () => {
    for (let i = 0; i < 4; i++) await createPat(t.app, admin, { name: `page-${i}` });
    const whole = (await request(t.app).get('/api/v1/audit_events?limit=200').set(bearer(admin))).body;
    expect(whole.next).toBeNull();
    const paged = await allEvents(admin, 3);
    expect(paged.map((e) => e.id)).toEqual(rows<AuditEventView>(whole.events).map((e) => e.id));
    const ids = paged.map((e) => Number(e.id));
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    expect(new Set(ids).size).toBe(ids.length);

    const first = await request(t.app).get('/api/v1/audit_events?limit=3').set(bearer(admin));
    expect(first.body.events).toHaveLength(3);
    expect(first.body.next).toBe(`/api/v1/audit_events?limit=3&before=${first.body.events[2].id}`);
    const defaults = await request(t.app).get('/api/v1/audit_events').set(bearer(admin));
    expect(defaults.body.events.length).toBeLessThanOrEqual(50);
  });

  it('refuses a bad limit or cursor: 400 validation_failed', async () => {
    for (const query of ['limit=0', 'limit=201', 'limit=ten', 'before=abc', 'before=-1']) {
      const res = await request(t.app).get(`/api/v1/audit_events?${query}`).set(bearer(admin));
      expect(res.status, query).toBe(400);
      expect(res.body.code).toBe('validation_failed');
    }
  });

  it("shows an organization only its own events", async () => {
    const other = await createOrganization(t, 'Hooli');
    await createPat(t.app, other.admin.session, { name: 'theirs' });
    const theirs = await allEvents(other.admin.session);
    expect(theirs.length).toBeGreaterThan(0);
    expect(theirs.every((e) => e.actor === other.admin.id)).toBe(true);
    const ours = await allEvents(admin);
    expect(ours.some((e) => e.actor === other.admin.id)).toBe(false);
  });

  it('never holds a key, password, session token or password hash (and neither do the logs)', async () => {
    const password = 'a very secret password 1';
    const newPassword = 'a very secret password 2';
    const secrets: string[] = [admin, ADMIN.password, password, newPassword];
    const user = await asAdmin('post', '/api/v1/users', { email: 'secretive@example.test', password });
    const session = await login(t.app, 'secretive@example.test', password);
    secrets.push(session);
    const pat = await createPat(t.app, session);
    const parsed = parsePat(pat.key);
    secrets.push(pat.key, parsed.ok ? parsed.pat.secret : 'unparsable');
    const exchanged = await exchangeFrom(CLIENT_IP, { pat: pat.key });
    secrets.push(exchanged.body.access_token);
    const forged = forgedKey(pat.key);
    secrets.push(forged);
    await exchangeFrom(CLIENT_IP, { pat: forged }).expect(400);
    const rotated = (await request(t.app).post(`/api/v1/api_tokens/${pat.id}/rotate`).set(bearer(session)).send({ grace: '1h' })).body.key as string;
    secrets.push(rotated);
    await request(t.app).post('/auth/v1/revoke').type('form').send({ token: exchanged.body.access_token }).expect(200);
    await asAdmin('patch', `/api/v1/users/${user.body.id}`, { password: newPassword }).expect(200);
    await request(t.app).post('/auth/v1/revoke').type('form').send({ token: rotated }).expect(200);

    const audit = JSON.stringify(await allEvents(admin));
    const logs = t.logs.join('\n');
    for (const secret of secrets) {
      expect(audit.includes(secret), `audit holds ${secret.slice(0, 12)}…`).toBe(false);
      expect(logs.includes(secret), `logs hold ${secret.slice(0, 12)}…`).toBe(false);
    }
    expect(audit).not.toMatch(/\$2[aby]\$/);
    expect(logs).not.toMatch(/\$2[aby]\$/);
  });
});

describe.each(BACKENDS)('rate limits on failed exchanges (%s)', (backend) => {
  let t: TestAuth;
  let admin: string;
  let compares = 0;

  beforeAll(async () => {
    t = await createTestAuth(backend, { RATE_LIMIT_IP_FAILURES: '5', RATE_LIMIT_TOKEN_FAILURES: '3', RATE_LIMIT_WINDOW: '5m' });
    admin = await login(t.app);
    const original = t.services.hasher.compare.bind(t.services.hasher);
    t.services.hasher.compare = (secret, hash) => {
      compares++;
      return original(secret, hash);
    };
  });
  afterAll(() => t.close());

  const exchangeFrom = (ip: string, fields: Record<string, string>) =>
    request(t.app).post('/auth/v1/token').type('form').set('X-Forwarded-For', ip).send(fields);

  function expectLimited(res: request.Response): void {
    expect(res.status).toBe(429);
    expect(res.body).toMatchObject({ error: 'rate_limited', error_description: expect.any(String) });
    const retryAfter = Number(res.headers['retry-after']);
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(300);
  }

  it('answers 429 with Retry-After to an IP once it has failed RATE_LIMIT_IP_FAILURES times, without running bcrypt', async () => {
    const pat = await createPat(t.app, admin);
    const ip = '192.0.2.10';
    for (let i = 0; i < 5; i++) {
      const res = await exchangeFrom(ip, { pat: 'pcl_garbage' });
      expect(res.status, `attempt ${i + 1}`).toBe(400);
    }
    const before = compares;
    expectLimited(await exchangeFrom(ip, { pat: pat.key }));
    expectLimited(await exchangeFrom(ip, { grant_type: 'password', username: ADMIN.email, password: ADMIN.password }));
    expect(compares).toBe(before);
    // Other clients are not affected.
    expect((await exchangeFrom('192.0.2.11', { pat: pat.key })).status).toBe(200);
  });

  it('counts failed password logins against the IP too', async () => {
    const ip = '192.0.2.20';
    for (let i = 0; i < 5; i++) {
      expect((await exchangeFrom(ip, { grant_type: 'password', username: ADMIN.email, password: 'not the password' })).status).toBe(400);
    }
    const before = compares;
    expectLimited(await exchangeFrom(ip, { grant_type: 'password', username: ADMIN.email, password: ADMIN.password }));
    expect(compares).toBe(before);
  });

  it('does not count successful exchanges', async () => {
    const pat = await createPat(t.app, admin);
    const ip = '192.0.2.30';
    for (let i = 0; i < 8; i++) expect((await exchangeFrom(ip, { pat: pat.key })).status).toBe(200);
  });

  it('answers 429 for a token id after RATE_LIMIT_TOKEN_FAILURES wrong secrets, from any IP, before bcrypt runs', async () => {
    const target = await createPat(t.app, admin);
    const bystander = await createPat(t.app, admin);
    // The holder's key, verified before the attack, stays usable from the verified-key cache.
    expect((await exchangeFrom('192.0.2.40', { pat: target.key })).status).toBe(200);

    const before = compares;
    for (let i = 0; i < 3; i++) {
      const res = await exchangeFrom(`198.18.0.${i + 1}`, { pat: forgedKey(target.key) });
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_grant');
    }
    expect(compares).toBe(before + 3);
    for (let i = 0; i < 3; i++) expectLimited(await exchangeFrom(`198.18.1.${i + 1}`, { pat: forgedKey(target.key) }));
    expect(compares).toBe(before + 3);

    expect((await exchangeFrom('192.0.2.40', { pat: target.key })).status).toBe(200);
    expect((await exchangeFrom('198.18.2.1', { pat: bystander.key })).status).toBe(200);
    expect(compares).toBe(before + 4);
  });

  it('applies the IP limit to PATs sent to POST /auth/v1/revoke', async () => {
    const pat = await createPat(t.app, admin);
    const ip = '192.0.2.50';
    for (let i = 0; i < 5; i++) await exchangeFrom(ip, { pat: 'pcl_garbage' }).expect(400);
    const res = await request(t.app).post('/auth/v1/revoke').type('form').set('X-Forwarded-For', ip).send({ token: pat.key });
    expect(res.status).toBe(429);
    expect(res.headers['retry-after']).toMatch(/^\d+$/);
    expect((await exchangeFrom('192.0.2.51', { pat: pat.key })).status).toBe(200);
  });
});
