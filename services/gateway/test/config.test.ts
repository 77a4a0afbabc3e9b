import { execFile } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ConfigError } from '@portcullis/config';
import { describe, expect, it } from 'vitest';
import { loadGatewayConfig } from '../src/config.js';
import { parseRouteTable } from '../src/route-table.js';

function problemsOf(fn: () => unknown): readonly string[] {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('gateway configuration', () => {
  it('reads GATEWAY_WORKERS as a count or auto (one per core), and needs Redis above one', () => {
    const base = { UPSTREAM_URL: 'http://api.internal:9000', REDIS_URL: 'redis://r:6379' };
    expect(loadGatewayConfig(base).workers).toBe(1);
    expect(loadGatewayConfig({ ...base, GATEWAY_WORKERS: '3' }).workers).toBe(3);
    expect(loadGatewayConfig({ ...base, GATEWAY_WORKERS: 'auto' }).workers).toBe(availableParallelism());
    for (const bad of ['0', 'many', '1.5', '300']) {
      expect(problemsOf(() => loadGatewayConfig({ ...base, GATEWAY_WORKERS: bad })).join('\n')).toMatch(/GATEWAY_WORKERS: /);
    }
    expect(problemsOf(() => loadGatewayConfig({ UPSTREAM_URL: 'http://api.internal:9000', GATEWAY_WORKERS: '2' }))).toEqual([
      'GATEWAY_WORKERS: more than one process needs Redis (REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES) to share revocations',
    ]);
  });

  it('applies the documented defaults', () => {
    const config = loadGatewayConfig({ UPSTREAM_URL: 'http://api.internal:9000' });
    expect(config).toMatchObject({
      port: 8080,
      authUrl: 'http://127.0.0.1:8081',
      jwksUrl: 'http://127.0.0.1:8081/.well-known/jwks.json',
      issuer: 'http://localhost:8081',
      audience: 'portcullis',
      clockToleranceSec: 5,
      revocationStalenessMs: 5_000,
      revocationFailOpen: false,
      patPrefix: 'pcl_',
      patHeader: 'token',
      upstreamTimeoutMs: 30_000,
      identityHeaders: { subject: 'x-auth-subject', org: 'x-auth-org', tokenId: 'x-auth-token-id', scope: 'x-auth-scope' },
      trustProxy: false,
    });
    expect(config.routes.map((r) => [r.prefix, r.upstream, r.auth])).toEqual([
      ['/', 'http://api.internal:9000', true],
      ['/auth/v1', 'http://127.0.0.1:8081', false],
      ['/.well-known', 'http://127.0.0.1:8081', false],
      ['/api/v1', 'http://127.0.0.1:8081', true],
    ]);
  });

  it('reports every problem at once, route table included', () => {
    const problems = problemsOf(() =>
      loadGatewayConfig(
        {
          GATEWAY_PORT: '99999',
          AUTH_URL: 'ftp://auth',
          UPSTREAM_TIMEOUT: 'soon',
          REVOCATION_FAIL_OPEN: 'maybe',
          PAT_PREFIX: 'PCL',
          IDENTITY_HEADER_SUBJECT: 'bad header',
          IDENTITY_HEADER_ORG: 'authorization',
          ROUTES_FILE: 'routes.yaml',
        },
        () => 'routes:\n  - prefix: nope\n    upstream: http://x\n',
      ),
    );
    expect(problems).toHaveLength(8);
    for (const name of ['GATEWAY_PORT', 'AUTH_URL', 'UPSTREAM_TIMEOUT', 'REVOCATION_FAIL_OPEN', 'PAT_PREFIX', 'IDENTITY_HEADER_SUBJECT', 'IDENTITY_HEADER_ORG']) {
      expect(problems.some((p) => p.startsWith(`${name}:`))).toBe(true);
    }
    expect(problems).toContain('ROUTES_FILE routes.yaml: routes.0.prefix: must start with /');
  });

  it('needs somewhere to send requests', () => {
    expect(problemsOf(() => loadGatewayConfig({}))).toEqual([
      'UPSTREAM_URL: required when ROUTES_FILE is not set (where should requests go?)',
    ]);
  });

  it('refuses identity header names that collide', () => {
    const problems = problemsOf(() => loadGatewayConfig({ UPSTREAM_URL: 'http://x', IDENTITY_HEADER_ORG: 'X-Auth-Subject' }));
    expect(problems).toEqual(['IDENTITY_HEADER_*, PAT_HEADER: every header name must be different']);
  });

  it('reports an unreadable route file', () => {
    const problems = problemsOf(() => loadGatewayConfig({ ROUTES_FILE: '/nonexistent/routes.yaml' }));
    expect(problems).toEqual(['ROUTES_FILE: cannot read /nonexistent/routes.yaml: ENOENT']);
  });

  it('lets a route file override a built-in prefix and keeps UPSTREAM_URL as the default route', () => {
    const config = loadGatewayConfig(
      { ROUTES_FILE: 'r.json', UPSTREAM_URL: 'http://default' },
      () => JSON.stringify({ routes: [{ prefix: '/api/v1', upstream: 'http://elsewhere', auth: false }] }),
    );
    expect(config.routes.filter((r) => r.prefix === '/api/v1')).toEqual([expect.objectContaining({ upstream: 'http://elsewhere', auth: false })]);
    expect(config.routes.find((r) => r.prefix === '/')?.upstream).toBe('http://default');
  });
});

describe('route table validation', () => {
  it('accepts YAML with every field, applying defaults', () => {
    const result = parseRouteTable(
      `routes:
  - prefix: /builds
    upstream: https://builds.internal/v2
    rewrite: /
    permissions: { GET: builds:read, "*": builds:admin, OPTIONS: null }
    forwardAuthorization: false
    timeout: 10s
    preserveHost: true
  - prefix: /docs
    upstream: http://docs
    auth: false
`,
      30_000,
    );
    expect(result).toEqual({
      ok: true,
      routes: [
        {
          prefix: '/builds',
          upstream: 'https://builds.internal/v2',
          rewrite: '/',
          auth: true,
          permissions: { GET: 'builds:read', '*': 'builds:admin', OPTIONS: null },
          forwardAuthorization: false,
          timeoutMs: 10_000,
          preserveHost: true,
        },
        {
          prefix: '/docs',
          upstream: 'http://docs',
          rewrite: undefined,
          auth: false,
          permissions: undefined,
          forwardAuthorization: true,
          timeoutMs: 30_000,
          preserveHost: false,
        },
      ],
    });
  });

  it('lists every problem in every route at once', () => {
    const result = parseRouteTable(
      `routes:
  - prefix: /a/
    upstream: not a url
  - prefix: /b/../c
    upstream: http://b
    permissions: { get: x, POST: "two words" }
    timeout: forever
    colour: blue
  - prefix: /public
    upstream: http://p
    auth: false
    permissions: { GET: read }
  - prefix: /a/
    upstream: http://dup
  - prefix: /q
    upstream: http://user:secret@q/?x=1
`,
      30_000,
    );
    expect(result.ok).toBe(false);
    const problems = result.ok ? [] : result.problems;
    expect(problems).toEqual(
      expect.arrayContaining([
        'routes.3.prefix: /a/ is already the prefix of routes.0',
        'routes.0.prefix: must not end with / (write /api, not /api/)',
        'routes.0.upstream: expected an http:// or https:// URL',
        'routes.1.prefix: must not contain empty, . or .. segments',
        'routes.1.permissions.get: expected an HTTP method in capitals, or *',
        'routes.1.permissions.POST: expected one permission without spaces',
        'routes.1.timeout: expected a duration such as 500ms, 30s or 2m',
        expect.stringMatching(/^routes\.1: Unrecognized key: "colour"/),
        'routes.2.permissions: needs auth: true (nobody is authenticated)',
        'routes.3.prefix: must not end with / (write /api, not /api/)',
        'routes.4.upstream: must not carry a query, fragment or credentials',
      ]),
    );
    expect(problems).toHaveLength(11);
  });

  it('reports YAML syntax errors', () => {
    const result = parseRouteTable('routes: [\n  - prefix: /a\n', 30_000);
    expect(result.ok).toBe(false);
    const problems = result.ok ? [] : result.problems;
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.every((p) => p.startsWith('syntax: '))).toBe(true);
  });

  it('needs at least one route', () => {
    expect(parseRouteTable('routes: []', 30_000)).toEqual({ ok: false, problems: ['routes: expected at least one route'] });
  });
});

describe('the gateway process', () => {
  it('exits with status 2 and lists every configuration problem on stderr', async () => {
    const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));
    const run = promisify(execFile)(process.execPath, ['--conditions=source', '--import', 'tsx', main], {
      env: { PATH: process.env.PATH, GATEWAY_PORT: 'eighty', UPSTREAM_TIMEOUT: 'soon', AUTH_URL: 'nope' },
      timeout: 20_000,
    });
    const failure = await run.then(
      () => {
        throw new Error('the gateway started');
      },
      (error: { code: number; stderr: string }) => error,
    );
    expect(failure.code).toBe(2);
    expect(failure.stderr).toContain('Invalid gateway configuration');
    for (const name of ['GATEWAY_PORT', 'UPSTREAM_TIMEOUT', 'AUTH_URL', 'UPSTREAM_URL']) expect(failure.stderr).toContain(`${name}:`);
  });
});
