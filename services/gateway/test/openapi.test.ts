import { readFileSync } from 'node:fs';
import { ERROR_STATUS } from '@portcullis/errors';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CallResult, bearer, call, closedPort } from '../../../test/support/gateway-harness.js';
import { loadDockerfile, stageChain } from '../../../test/support/compose-files.js';
import { loadOpenApi, openApiChecker } from '../../../test/support/openapi.js';
import { OPENAPI_DOCUMENT_URL } from '../src/own-endpoints.js';
import { type TestStack, startStack } from './helpers.js';

/**
 * services/gateway/openapi.json against a real gateway (fake auth, echo upstream): its own endpoints and the
 * answers it gives on proxied paths are checked against the schema declared for their path, method and status.
 */
const doc = loadOpenApi(OPENAPI_DOCUMENT_URL);
const checker = openApiChecker(doc, 'gateway');

function conforms(method: string, path: string, res: CallResult): void {
  expect(checker.responseProblems(method, path, { status: res.status, headers: res.headers, text: res.body.toString('utf8') })).toEqual([]);
}

describe('services/gateway/openapi.json', () => {
  it('is a sound OpenAPI 3.1 document: parses, every $ref resolves, every operation has responses, every schema compiles', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(checker.problems()).toEqual([]);
  });

  it('is in the Docker image, next to the dist/ that reads it at start-up', () => {
    const runtime = stageChain(loadDockerfile(), 'runtime');
    expect(runtime).toContainEqual({ keyword: 'COPY', args: '--from=build /app/services/gateway/openapi.json services/gateway/openapi.json' });
  });

  it("lists exactly packages/errors' closed list of error codes", () => {
    const schemas = (doc.components as { schemas: Record<string, { enum?: string[] }> }).schemas;
    expect(schemas.ErrorCode?.enum).toEqual(Object.keys(ERROR_STATUS));
  });

  it('sends readers to the auth service for /auth/v1, /.well-known and /api/v1', () => {
    const description = (doc.info as { description: string }).description;
    for (const prefix of ['/auth/v1', '/.well-known', '/api/v1']) expect(description).toContain(`\`${prefix}\``);
  });
});

describe('the gateway answers as its OpenAPI document says', () => {
  let stack: TestStack;

  beforeAll(async () => {
    const down = await closedPort();
    stack = await startStack({
      env: { REVOCATION_STALENESS: '5s' },
      routes: `
routes:
  - prefix: /builds
    upstream: "{{upstream}}"
    permissions:
      GET: builds:read
  - prefix: /down
    upstream: http://127.0.0.1:${down}
  - prefix: /slow
    upstream: "{{upstream}}"
    timeout: 200ms
  - prefix: /
    upstream: "{{upstream}}"
`,
    });
  });
  afterAll(() => stack.close());

  const token = (scope = '*') => stack.auth.token({ scope });

  it('GET /openapi.json serves the file itself (200)', async () => {
    const res = await call(stack.url, '/openapi.json');
    expect(res.status).toBe(200);
    conforms('GET', '/openapi.json', res);
    expect(res.body.toString('utf8')).toBe(readFileSync(OPENAPI_DOCUMENT_URL, 'utf8'));
    expect(res.json()).toEqual(doc);
  });

  it.each(['/healthz', '/readyz', '/metrics'])('GET %s (200)', async (path) => {
    const res = await call(stack.url, path);
    expect(res.status).toBe(200);
    conforms('GET', path, res);
  });

  it.each([
    ['no credentials', [] as [string, string][], 401, 'unauthorized'],
    ['a bad token', bearer('a.b.c'), 401, 'invalid_token'],
    ['a malformed Authorization header', [['authorization', 'Bearer']] as [string, string][], 400, 'invalid_request'],
  ])('answers %s with %i %s', async (_name, headers, status, code) => {
    const res = await call(stack.url, '/anything', { headers });
    expect([res.status, res.json().code]).toEqual([status, code]);
    conforms('GET', '/anything', res);
  });

  it('answers 403 insufficient_scope without the permission, and 405 for a method the route does not list', async () => {
    const forbidden = await call(stack.url, '/builds', { headers: bearer(token('other')) });
    expect([forbidden.status, forbidden.json().code]).toEqual([403, 'insufficient_scope']);
    conforms('GET', '/builds', forbidden);

    const method = await call(stack.url, '/builds', { method: 'DELETE', headers: bearer(token()) });
    expect([method.status, method.json().code]).toEqual([405, 'method_not_allowed']);
    conforms('DELETE', '/builds', method);
  });

  it('answers 502 when the upstream refuses and 504 when it is too slow', async () => {
    const refused = await call(stack.url, '/down', { headers: bearer(token()) });
    expect(refused.status).toBe(502);
    conforms('GET', '/down', refused);

    const slow = await call(stack.url, '/slow', { method: 'POST', headers: bearer(token()) });
    expect(slow.status).toBe(504);
    conforms('POST', '/slow', slow);
  });

  it('answers 503 on authenticated routes and /readyz once the revocation set is stale', async () => {
    const fresh = stack.clock.ms;
    stack.clock.ms += 60_000;
    try {
      const refused = await call(stack.url, '/anything', { headers: bearer(token()) });
      expect(refused.status).toBe(503);
      conforms('GET', '/anything', refused);
      const ready = await call(stack.url, '/readyz');
      expect(ready.status).toBe(503);
      conforms('GET', '/readyz', ready);
    } finally {
      stack.clock.ms = fresh;
    }
  });
});
