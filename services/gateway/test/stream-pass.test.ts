import { describe, expect, it } from 'vitest';
import { headerList } from '../src/stream-pass.js';

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
