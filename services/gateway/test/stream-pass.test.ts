import httpProxy from 'http-proxy';
import { describe, expect, it } from 'vitest';
import { createRequire } from 'node:module';
import { headerList, replaceStreamPass, upstreamPath } from '../src/stream-pass.js';

const { urlJoin } = createRequire(import.meta.url)('http-proxy/lib/http-proxy/common') as { urlJoin(this: void, ...parts: string[]): string };

type PassList = { name: string }[];
/** The http-proxy server http-proxy-middleware hands its plugins (its type names it differently). */
const proxyServer = () => httpProxy.createProxyServer({}) as unknown as Parameters<typeof replaceStreamPass>[0];

describe('headerList', () => {
  it('lists every field in order, a field with several values as several lines', () => {
    expect(headerList({ host: 'api.example', accept: 'a/b', 'set-cookie': ['a=1', 'b=2'], 'x-gone': undefined }, 'up.internal', false)).toEqual([
      'host', 'api.example', 'accept', 'a/b', 'set-cookie', 'a=1', 'set-cookie', 'b=2',
    ]);
  });

  it("sends the upstream's host in the request's Host field when asked to (changeOrigin)", () => {
    expect(headerList({ accept: '*/*', host: 'api.example', via: 'x' }, 'up.internal:8080', true)).toEqual([
      'accept', '*/*', 'host', 'up.internal:8080', 'via', 'x',
    ]);
  });

  it('adds the upstream host when the request has none, as node:http does for an object', () => {
    expect(headerList({ accept: '*/*' }, '10.0.0.7:8080', false)).toEqual(['accept', '*/*', 'host', '10.0.0.7:8080']);
    expect(headerList({ accept: '*/*' }, '10.0.0.7:8080', true)).toEqual(['accept', '*/*', 'host', '10.0.0.7:8080']);
  });
});

describe('upstreamPath', () => {
  it("gives http-proxy's urlJoin result, on its shortcut and off it", () => {
    const urls = ['/', '/a/b', '/a/b?q=1', '/a?next=//x', '/a//b?q=1', '/r/http:/x', '/r/https:/x', '/a?u=http://x', '*', '/%2F%2F?x=1&y=2'];
    for (const targetPath of ['', '/base', '/base/']) {
      for (const url of urls) expect([targetPath, url, upstreamPath(targetPath, url)]).toEqual([targetPath, url, urlJoin(targetPath, url)]);
    }
  });
});

describe('replaceStreamPass', () => {
  it("runs the gateway's pass just before http-proxy's own stream, which it then stops", () => {
    const server = proxyServer();
    replaceStreamPass(server);
    const names = (server as unknown as { webPasses: PassList }).webPasses.map((pass) => pass.name);
    expect(names.slice(-2)).toEqual(['sendUpstream', 'stream']);
  });

  it('fails at start when this http-proxy has no pass named stream', () => {
    const server = proxyServer();
    const passes = (server as unknown as { webPasses: PassList }).webPasses;
    passes.splice(passes.findIndex((pass) => pass.name === 'stream'), 1);
    expect(() => replaceStreamPass(server)).toThrow(/No such pass/);
  });
});
