import { readFileSync } from 'node:fs';
import request from 'supertest';
import { ERROR_STATUS } from '@portcullis/errors';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDockerfile, stageChain } from '../../../test/support/compose-files.js';
import { loadOpenApi, openApiChecker, operations } from '../../../test/support/openapi.js';
import type { AuthApp } from '../src/app.js';
import { OPENAPI_DOCUMENT_URL } from '../src/routes/meta.js';
import { ADMIN, type TestAuth, bearer, createPat, createTestAuth, createUser, login } from './harness.js';

/**
 * services/auth/openapi.json against the real app: every answer below is checked against the schema the
 * document declares for its path, method and status. An undeclared status or a body that does not match fails.
 */
const doc = loadOpenApi(OPENAPI_DOCUMENT_URL);
const checker = openApiChecker(doc, 'auth');
const exercised = new Set<string>();

function conforms(method: string, path: string, res: request.Response): void {
  const operation = checker.operationOf(method, path);
  if (operation !== undefined) exercised.add(operation);
  expect(checker.responseProblems(method, path, { status: res.status, headers: res.headers, text: res.text })).toEqual([]);
}

/** Sends a JSON body the document must accept too, so request schemas are checked against the real app. */
function sent(method: string, path: string, body: Record<string, unknown>, type = 'application/json'): Record<string, unknown> {
  expect(checker.requestProblems(method, path, type, body)).toEqual([]);
  return body;
}

describe('services/auth/openapi.json', () => {
  it('is a sound OpenAPI 3.1 document: parses, every $ref resolves, every operation has responses, every schema compiles', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(checker.problems()).toEqual([]);
  });

  it('is in the Docker image, next to the dist/ that reads it at start-up', () => {
    const runtime = stageChain(loadDockerfile(), 'runtime');
    expect(runtime).toContainEqual({ keyword: 'COPY', args: '--from=build /app/services/auth/openapi.json services/auth/openapi.json' });
  });

  it("lists exactly packages/errors' closed list of error codes", () => {
    const schemas = (doc.components as { schemas: Record<string, { enum?: string[] }> }).schemas;
    expect(schemas.ErrorCode?.enum).toEqual(Object.keys(ERROR_STATUS));
  });
});

describe('the auth API answers as its OpenAPI document says', () => {
  let t: TestAuth;
  let app: AuthApp;
  let admin: string;

  beforeAll(async () => {
    t = await createTestAuth('pglite');
    app = t.app;
    admin = await login(app);
  });
  afterAll(() => t.close());

  it('documents every route the app registers, and nothing it does not', () => {
    interface Layer {
      route?: { path: string; methods: Record<string, boolean> };
      handle?: { stack?: Layer[] };
    }
    // The fast path serves only the token route's common shape; express registers that route too.
    const layers = (app.express as unknown as { router: { stack: Layer[] } }).router.stack;
    const registered = layers
      .flatMap((layer) => layer.handle?.stack ?? [layer])
      .flatMap((layer) => (layer.route ? Object.keys(layer.route.methods).map((m) => `${m.toUpperCase()} ${layer.route!.path.replace(/:(\w+)/g, '{$1}')}`) : []));
    const documented = operations(doc).map((op) => `${op.method.toUpperCase()} ${op.path}`);
    expect(documented.sort()).toEqual([...new Set(registered)].sort());
  });

  describe('meta', () => {
    it('GET /openapi.json serves the file itself (200)', async () => {
      const res = await request(app).get('/openapi.json');
      conforms('GET', '/openapi.json', res);
      expect(res.text).toBe(readFileSync(OPENAPI_DOCUMENT_URL, 'utf8'));
      expect(res.body).toEqual(doc);
    });

    it.each(['/healthz', '/readyz', '/.well-known/jwks.json', '/.well-known/oauth-authorization-server', '/metrics'])('GET %s (200)', async (path) => {
      const res = await request(app).get(path);
      expect(res.status).toBe(200);
      conforms('GET', path, res);
    });

    it('GET /readyz answers 503 when the store fails', async () => {
      const ping = t.store.ping.bind(t.store);
      t.store.ping = () => Promise.reject(new Error('down'));
      try {
        const res = await request(app).get('/readyz');
        expect(res.status).toBe(503);
        conforms('GET', '/readyz', res);
      } finally {
        t.store.ping = ping;
      }
    });

    it('an unknown route answers 404 in the error shape', async () => {
      const res = await request(app).get('/api/v1/nothing-here');
      expect(res.status).toBe(404);
      expect(res.body).toMatchObject({ code: 'not_found' });
      // An unknown route has no operation to declare it: the document says so, and the body is its Error.
      expect(checker.operationOf('GET', '/api/v1/nothing-here')).toBeUndefined();
      expect(checker.componentProblems('Error', res.body)).toEqual([]);
    });

    it('a known path asked with a method it does not serve answers 405 with Allow, in the error shape', async () => {
      const token = await request(app).get('/auth/v1/token');
      expect(token.status).toBe(405);
      expect(token.headers.allow).toBe('POST');
      expect(token.body).toMatchObject({ code: 'method_not_allowed' });
      expect(checker.componentProblems('Error', token.body)).toEqual([]);
      const one = await request(app).put('/api/v1/api_tokens/00000000-0000-4000-8000-000000000000');
      expect([one.status, one.headers.allow]).toEqual([405, 'DELETE, GET, HEAD, PATCH']);
      const list = await request(app).delete('/api/v1/api_tokens');
      expect([list.status, list.headers.allow]).toEqual([405, 'GET, HEAD, POST']);
      // Routing is untouched: the served methods still answer, unknown paths still 404.
      expect((await request(app).post('/auth/v1/token').type('form').send({ pat: 'nope' })).status).toBe(400);
      expect((await request(app).put('/api/v1/nothing-here')).status).toBe(404);
    });
  });

  describe('POST /auth/v1/token', () => {
    const path = '/auth/v1/token';

    it('password grant, form (200)', async () => {
      const res = await request(app).post(path).type('form').send(sent('POST', path, { grant_type: 'password', username: ADMIN.email, password: ADMIN.password }, 'application/x-www-form-urlencoded'));
      expect(res.status).toBe(200);
      conforms('POST', path, res);
    });

    it('pat=, JSON (200), with the expiry warning header', async () => {
      const pat = await createPat(app, admin, { ttl: '1h' });
      const res = await request(app).post(path).send(sent('POST', path, { pat: pat.key }));
      expect(res.status).toBe(200);
      expect(res.headers['portcullis-token-expiration']).toBeDefined();
      conforms('POST', path, res);
    });

    it('RFC 8693 token exchange, form (200)', async () => {
      const pat = await createPat(app, admin);
      const body = { grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', subject_token: pat.key, subject_token_type: 'urn:ietf:params:oauth:token-type:access_token', scope: 'GetOrganization' };
      const res = await request(app).post(path).type('form').send(sent('POST', path, body, 'application/x-www-form-urlencoded'));
      expect(res.status).toBe(200);
      conforms('POST', path, res);
    });

    it.each([
      ['invalid_request', { username: 'x' }],
      ['invalid_grant', { grant_type: 'password', username: ADMIN.email, password: 'not the password' }],
      ['unsupported_grant_type', { grant_type: 'client_credentials' }],
      ['invalid_target', { grant_type: 'password', username: ADMIN.email, password: ADMIN.password, audience: 'elsewhere' }],
    ])('answers 400 %s in the RFC 6749 shape', async (error, body) => {
      const res = await request(app).post(path).type('form').send(body);
      expect(res.status).toBe(400);
      expect(res.body.error).toBe(error);
      conforms('POST', path, res);
    });

    it('answers 400 invalid_scope for more than the token may do', async () => {
      const pat = await createPat(app, admin, { permissions: ['GetOrganization'] });
      const res = await request(app).post(path).type('form').send({ pat: pat.key, scope: 'ListUsers' });
      expect([res.status, res.body.error]).toEqual([400, 'invalid_scope']);
      conforms('POST', path, res);
    });

    it('answers 401 authorization_pending and 403 access_denied for applications', async () => {
      const pat = await createPat(app, admin, { default_app_state: 'pending' });
      const pending = await request(app).post(path).type('form').send({ pat: pat.key, app: 'ci-bot' });
      expect(pending.status).toBe(401);
      conforms('POST', path, pending);

      await request(app).patch(`/api/v1/api_tokens/${pat.id}/applications/ci-bot`).set(bearer(admin)).send({ state: 'deny' }).expect(200);
      const denied = await request(app).post(path).type('form').send({ pat: pat.key, app: 'ci-bot' });
      expect(denied.status).toBe(403);
      conforms('POST', path, denied);
    });

    it('answers 413 and 415', async () => {
      const large = await request(app).post(path).type('form').send({ pat: 'x'.repeat(20_000) });
      expect(large.status).toBe(413);
      conforms('POST', path, large);
      const text = await request(app).post(path).set('Content-Type', 'text/plain').send('pat=x');
      expect(text.status).toBe(415);
      conforms('POST', path, text);
    });

    it('answers 429 with Retry-After once an address has failed too often', async () => {
      const from = (fields: Record<string, string>) => request(app).post(path).type('form').set('X-Forwarded-For', '192.0.2.77').send(fields);
      let res = await from({ pat: 'pcl_garbage' });
      for (let i = 0; i < 40 && res.status !== 429; i++) res = await from({ pat: 'pcl_garbage' });
      expect(res.status).toBe(429);
      conforms('POST', path, res);

      const revoke = await request(app).post('/auth/v1/revoke').type('form').set('X-Forwarded-For', '192.0.2.77').send({ token: (await createPat(app, admin)).key });
      expect(revoke.status).toBe(429);
      conforms('POST', '/auth/v1/revoke', revoke);
    });
  });

  describe('POST /auth/v1/revoke and /auth/v1/introspect', () => {
    it('revokes a session (200, no body); 400 without a token; 415 for another media type', async () => {
      const session = await login(app);
      const ok = await request(app).post('/auth/v1/revoke').type('form').send(sent('POST', '/auth/v1/revoke', { token: session }, 'application/x-www-form-urlencoded'));
      expect(ok.status).toBe(200);
      conforms('POST', '/auth/v1/revoke', ok);
      const missing = await request(app).post('/auth/v1/revoke').send({});
      expect(missing.status).toBe(400);
      conforms('POST', '/auth/v1/revoke', missing);
      const other = await request(app).post('/auth/v1/revoke').set('Content-Type', 'text/plain').send('token=x');
      expect(other.status).toBe(415);
      conforms('POST', '/auth/v1/revoke', other);
    });

    it('introspects a session, a PAT and junk (200)', async () => {
      const pat = await createPat(app, admin);
      const session = await login(app);
      for (const token of [session, pat.key, 'junk']) {
        const res = await request(app).post('/auth/v1/introspect').set(bearer(admin)).send(sent('POST', '/auth/v1/introspect', { token }));
        expect(res.status).toBe(200);
        conforms('POST', '/auth/v1/introspect', res);
      }
    });

    it('answers 401, 403, 400 and 415 in the RFC 6749 shape', async () => {
      const normal = await createUser(app, admin, 'normal');
      const cases: [request.Test, number][] = [
        [request(app).post('/auth/v1/introspect').send({ token: 'x' }), 401],
        [request(app).post('/auth/v1/introspect').set(bearer('not-a-jwt.x.y')).send({ token: 'x' }), 401],
        [request(app).post('/auth/v1/introspect').set(bearer(normal.session)).send({ token: 'x' }), 403],
        [request(app).post('/auth/v1/introspect').set('Authorization', 'Basic abc').send({ token: 'x' }), 400],
        [request(app).post('/auth/v1/introspect').set(bearer(admin)).send({}), 400],
        [request(app).post('/auth/v1/introspect').set(bearer(admin)).set('Content-Type', 'text/plain').send('token=x'), 415],
      ];
      for (const [call, status] of cases) {
        const res = await call;
        expect(res.status).toBe(status);
        conforms('POST', '/auth/v1/introspect', res);
      }
    });
  });

  describe('/api/v1/api_tokens', () => {
    it('walks a token through create, list, get, patch, rotate, applications, retire, promote and delete', async () => {
      const body = sent('POST', '/api/v1/api_tokens', { name: 'ci', description: 'for CI', ttl: '10000h', permissions: ['*'], default_app_state: 'pending' });
      const created = await request(app).post('/api/v1/api_tokens').set(bearer(admin)).send(body);
      expect(created.status).toBe(201);
      conforms('POST', '/api/v1/api_tokens', created);
      const id = created.body.id as string;
      const key = created.body.key as string;

      for (const path of ['/api/v1/api_tokens', '/api/v1/api_tokens/all', `/api/v1/api_tokens/${id}`]) {
        const res = await request(app).get(path).set(bearer(admin));
        expect(res.status).toBe(200);
        conforms('GET', path, res);
      }

      const patched = await request(app).patch(`/api/v1/api_tokens/${id}`).set(bearer(admin)).send(sent('PATCH', `/api/v1/api_tokens/${id}`, { description: 'changed', expires: null, enabled: true }));
      expect(patched.status).toBe(200);
      conforms('PATCH', `/api/v1/api_tokens/${id}`, patched);

      const rotated = await request(app).post(`/api/v1/api_tokens/${id}/rotate`).set(bearer(admin)).send(sent('POST', `/api/v1/api_tokens/${id}/rotate`, { grace: '1h' }));
      expect(rotated.status).toBe(200);
      expect(rotated.body.key).not.toBe(key);
      conforms('POST', `/api/v1/api_tokens/${id}/rotate`, rotated);

      await request(app).post('/auth/v1/token').type('form').send({ pat: rotated.body.key, app: 'deploy-bot' }).expect(401);
      const apps = await request(app).get(`/api/v1/api_tokens/${id}/applications`).set(bearer(admin));
      expect(apps.status).toBe(200);
      expect(apps.body).toHaveLength(1);
      conforms('GET', `/api/v1/api_tokens/${id}/applications`, apps);
      const decided = await request(app).patch(`/api/v1/api_tokens/${id}/applications/deploy-bot`).set(bearer(admin)).send(sent('PATCH', `/api/v1/api_tokens/${id}/applications/deploy-bot`, { state: 'allow' }));
      expect(decided.status).toBe(200);
      conforms('PATCH', `/api/v1/api_tokens/${id}/applications/deploy-bot`, decided);

      const promoted = await request(app).post(`/api/v1/api_tokens/${id}/promote`).set(bearer(admin));
      expect(promoted.status).toBe(200);
      expect(promoted.body).toMatchObject({ kind: 'account', owner: null, acting_role: 'admin' });
      conforms('POST', `/api/v1/api_tokens/${id}/promote`, promoted);
      const again = await request(app).post(`/api/v1/api_tokens/${id}/promote`).set(bearer(admin));
      expect(again.status).toBe(409);
      conforms('POST', `/api/v1/api_tokens/${id}/promote`, again);

      const retired = await request(app).post(`/api/v1/api_tokens/${id}/retire`).set(bearer(admin));
      expect(retired.status).toBe(200);
      expect(retired.body).toMatchObject({ retired: true });
      conforms('POST', `/api/v1/api_tokens/${id}/retire`, retired);
      const rotateRetired = await request(app).post(`/api/v1/api_tokens/${id}/rotate`).set(bearer(admin)).send({});
      expect(rotateRetired.status).toBe(409);
      conforms('POST', `/api/v1/api_tokens/${id}/rotate`, rotateRetired);
      const patchRetired = await request(app).patch(`/api/v1/api_tokens/${id}`).set(bearer(admin)).send({ name: 'x' });
      expect(patchRetired.status).toBe(409);
      conforms('PATCH', `/api/v1/api_tokens/${id}`, patchRetired);

      const deleted = await request(app).delete(`/api/v1/api_tokens/${id}`).set(bearer(admin));
      expect(deleted.status).toBe(204);
      conforms('DELETE', `/api/v1/api_tokens/${id}`, deleted);
      for (const path of [`/api/v1/api_tokens/${id}`, '/api/v1/api_tokens/not-a-uuid']) {
        const gone = await request(app).get(path).set(bearer(admin));
        expect(gone.status).toBe(404);
        conforms('GET', path, gone);
      }
    });

    it('an account token session is answered by GET /api/v1/users/me too (200)', async () => {
      const account = await createPat(app, admin, { kind: 'account' });
      const session = (await request(app).post('/auth/v1/token').type('form').send({ pat: account.key })).body.access_token as string;
      const me = await request(app).get('/api/v1/users/me').set(bearer(session));
      expect(me.status).toBe(200);
      expect(me.body).toMatchObject({ id: null, kind: 'account' });
      conforms('GET', '/api/v1/users/me', me);
    });

    it('answers 400, 401, 403, 413 and 415 in the error shape', async () => {
      const reader = await createUser(app, admin, 'read_only');
      const normal = await createUser(app, admin, 'normal');
      const path = '/api/v1/api_tokens';
      const cases: [request.Test, number, string][] = [
        [request(app).post(path).set(bearer(admin)).send({ name: 'x', owner: 'someone' }), 400, 'validation_failed'],
        [request(app).post(path).set(bearer(admin)).set('Content-Type', 'application/json').send('{"name":'), 400, 'invalid_request'],
        [request(app).post(path).set('Authorization', 'Basic abc').send({}), 400, 'invalid_request'],
        [request(app).post(path).send({}), 401, 'unauthorized'],
        [request(app).post(path).set(bearer('a.b.c')).send({}), 401, 'invalid_token'],
        [request(app).post(path).set(bearer(reader.session)).send({}), 403, 'insufficient_scope'],
        [request(app).post(path).set(bearer(normal.session)).send({ kind: 'account' }), 403, 'forbidden'],
        [request(app).post(path).set(bearer(admin)).send({ description: 'x'.repeat(20_000) }), 413, 'payload_too_large'],
        [request(app).post(path).set(bearer(admin)).set('Content-Type', 'application/x-www-form-urlencoded').send('name=x'), 415, 'unsupported_media_type'],
      ];
      for (const [call, status, code] of cases) {
        const res = await call;
        expect([res.status, res.body.code]).toEqual([status, code]);
        conforms('POST', path, res);
      }
    });
  });

  describe('/api/v1/users and /api/v1/organization', () => {
    it('creates, lists, reads, changes and deletes a user; answers 409 and 404', async () => {
      const email = `openapi-${Date.now()}@example.test`;
      const created = await request(app).post('/api/v1/users').set(bearer(admin)).send(sent('POST', '/api/v1/users', { email, password: 'a long enough password', role: 'read_only' }));
      expect(created.status).toBe(201);
      conforms('POST', '/api/v1/users', created);
      const id = created.body.id as string;

      const duplicate = await request(app).post('/api/v1/users').set(bearer(admin)).send({ email, password: 'a long enough password' });
      expect(duplicate.status).toBe(409);
      conforms('POST', '/api/v1/users', duplicate);

      for (const path of ['/api/v1/users', '/api/v1/users/me', `/api/v1/users/${id}`]) {
        const res = await request(app).get(path).set(bearer(admin));
        expect(res.status).toBe(200);
        conforms('GET', path, res);
      }

      const patched = await request(app).patch(`/api/v1/users/${id}`).set(bearer(admin)).send(sent('PATCH', `/api/v1/users/${id}`, { role: 'normal' }));
      expect(patched.status).toBe(200);
      conforms('PATCH', `/api/v1/users/${id}`, patched);

      const adminId = (await request(app).get('/api/v1/users/me').set(bearer(admin))).body.id as string;
      const lastAdmin = await request(app).patch(`/api/v1/users/${adminId}`).set(bearer(admin)).send({ role: 'normal' });
      expect(lastAdmin.status).toBe(409);
      conforms('PATCH', `/api/v1/users/${adminId}`, lastAdmin);

      const deleted = await request(app).delete(`/api/v1/users/${id}`).set(bearer(admin));
      expect(deleted.status).toBe(204);
      conforms('DELETE', `/api/v1/users/${id}`, deleted);
      const gone = await request(app).delete(`/api/v1/users/${id}`).set(bearer(admin));
      expect(gone.status).toBe(404);
      conforms('DELETE', `/api/v1/users/${id}`, gone);
    });

    it('reads and changes the organization (200); rejects a bad policy (400)', async () => {
      const got = await request(app).get('/api/v1/organization').set(bearer(admin));
      expect(got.status).toBe(200);
      conforms('GET', '/api/v1/organization', got);
      const patched = await request(app).patch('/api/v1/organization').set(bearer(admin)).send(sent('PATCH', '/api/v1/organization', { name: 'Acme', max_token_lifetime: '90d', default_app_state: 'allow' }));
      expect(patched.status).toBe(200);
      expect(patched.body.max_token_lifetime_seconds).toBe(90 * 86_400);
      conforms('PATCH', '/api/v1/organization', patched);
      const bad = await request(app).patch('/api/v1/organization').set(bearer(admin)).send({ max_token_lifetime: 0 });
      expect(bad.status).toBe(400);
      conforms('PATCH', '/api/v1/organization', bad);
      await request(app).patch('/api/v1/organization').set(bearer(admin)).send({ max_token_lifetime: null }).expect(200);
    });

    it('pages the audit log (200) and rejects a bad limit (400)', async () => {
      const first = await request(app).get('/api/v1/audit_events?limit=2').set(bearer(admin));
      expect(first.status).toBe(200);
      expect(first.body.next).toEqual(expect.any(String));
      conforms('GET', '/api/v1/audit_events', first);
      const next = await request(app).get(first.body.next as string).set(bearer(admin));
      expect(next.status).toBe(200);
      conforms('GET', '/api/v1/audit_events', next);
      const bad = await request(app).get('/api/v1/audit_events?limit=0').set(bearer(admin));
      expect(bad.status).toBe(400);
      conforms('GET', '/api/v1/audit_events', bad);
    });
  });

  it('exercised every documented operation', () => {
    const documented = operations(doc).map((op) => `${op.method.toUpperCase()} ${op.path}`);
    expect(documented.filter((op) => !exercised.has(op))).toEqual([]);
  });
});
