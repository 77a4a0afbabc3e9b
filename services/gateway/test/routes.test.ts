import { describe, expect, it } from 'vitest';
import { forwardUrl, normalizePath, parseRequestTarget } from '../src/request-path.js';
import type { RouteSpec } from '../src/route-table.js';
import { METHOD_NOT_ALLOWED, createRouter, requiredPermission, rewritePath } from '../src/routes.js';

function spec(prefix: string, extra: Partial<RouteSpec> = {}): RouteSpec {
  return {
    prefix,
    upstream: 'http://u',
    rewrite: undefined,
    auth: true,
    permissions: undefined,
    forwardAuthorization: true,
    timeoutMs: 1000,
    preserveHost: false,
    ...extra,
  };
}

describe('longest-prefix matching', () => {
  const router = createRouter(['/', '/api', '/api/v1', '/api/v1/admin', '/static'].map((p) => ({ spec: spec(p) })));
  const prefixOf = (path: string) => router.match(path)?.spec.prefix;

  it.each([
    ['/api/v1/admin/users', '/api/v1/admin'],
    ['/api/v1/adminx', '/api/v1'],
    ['/api/v1', '/api/v1'],
    ['/api/v2/x', '/api'],
    ['/apiary', '/'],
    ['/static/a.css', '/static'],
    ['/API/V1/ADMIN', '/api/v1/admin'],
    ['/', '/'],
  ])('sends %s to %s', (path, prefix) => {
    expect(prefixOf(path)).toBe(prefix);
  });

  it('matches nothing without a root route', () => {
    expect(createRouter([{ spec: spec('/api') }]).match('/other')).toBeUndefined();
  });
});

describe('prefix rewrite', () => {
  it.each([
    [spec('/svc', { rewrite: '/' }), '/svc/a/b', '/a/b'],
    [spec('/svc', { rewrite: '/' }), '/svc', '/'],
    [spec('/svc', { rewrite: '/internal' }), '/svc/a', '/internal/a'],
    [spec('/svc', { rewrite: '/internal' }), '/svc', '/internal'],
    [spec('/', { rewrite: '/v2' }), '/a', '/v2/a'],
    [spec('/svc'), '/svc/a', '/svc/a'],
  ])('rewrites %#', (route, path, expected) => {
    expect(rewritePath(route, path)).toBe(expected);
  });
});

describe('permissions per method', () => {
  const route = spec('/b', { permissions: { GET: 'read', POST: 'write', OPTIONS: null } });
  it('reads the method, falls back from HEAD to GET, and refuses unlisted methods', () => {
    expect(requiredPermission(route, 'GET')).toBe('read');
    expect(requiredPermission(route, 'HEAD')).toBe('read');
    expect(requiredPermission(route, 'OPTIONS')).toBeNull();
    expect(requiredPermission(route, 'DELETE')).toBe(METHOD_NOT_ALLOWED);
    expect(requiredPermission(spec('/b', { permissions: { '*': 'any' } }), 'DELETE')).toBe('any');
    expect(requiredPermission(spec('/b'), 'DELETE')).toBeNull();
  });

  it('is not fooled by prototype keys', () => {
    expect(requiredPermission(route, 'constructor')).toBe(METHOD_NOT_ALLOWED);
  });
});

describe('request path normalisation', () => {
  it.each([
    ['/plain/path', '/plain/path'],
    ['//a///b', '/a/b'],
    ['/%61pi/%7Euser', '/api/~user'],
    ['/a%2fb', '/a%2Fb'],
    ['/file.json', '/file.json'],
    ['/.well-known/jwks.json', '/.well-known/jwks.json'],
    ['/a/%20b', '/a/%20b'],
  ])('normalises %s to %s', (raw, normal) => {
    expect(normalizePath(raw)).toBe(normal);
  });

  it.each(['/a/../b', '/a/./b', '/a/..', '/%2e%2e/x', '/a/%2E/b', '/a\\b', '/a%5cb', '/a%zz', '/a%', 'relative', 'http://evil/x', '*', '/a b', '/é'])(
    'refuses %s',
    (raw) => {
      expect(normalizePath(raw)).toBeNull();
    },
  );

  it('keeps the query string untouched', () => {
    expect(parseRequestTarget('//x/%61?b=%2e%2e/../&c')).toEqual({ path: '/x/a', query: '?b=%2e%2e/../&c' });
  });

  it('drops a fragment after the query: it is never sent to the upstream', () => {
    expect(parseRequestTarget('/x?a=1#frag?b')).toEqual({ path: '/x', query: '?a=1' });
  });
});

describe('the URL forwarded upstream', () => {
  it.each([
    ['/plain/path', '', '/plain/path'],
    ['/x', '?a=1&b=%20', '/x?a=1&b=%20'],
    // What url.parse encoded when http-proxy parsed every forwarded URL: upstreams keep receiving the same.
    ['/a{b}|c^d`e"f\'g<h>i', '?q="x\'<y>{|}^`', '/a%7Bb%7D%7Cc%5Ed%60e%22f%27g%3Ch%3Ei?q=%22x%27%3Cy%3E%7B%7C%7D%5E%60'],
  ])('forwards %s%s as %s', (path, query, url) => {
    expect(forwardUrl(path, query)).toBe(url);
  });
});
