import { describe, expect, it } from 'vitest';
import { headerList } from '../src/header-list-pass.js';

describe('headerList', () => {
  it('lists every field in order, a field with several values as several lines', () => {
    expect(headerList({ host: 'api.internal', accept: 'a/b', 'set-cookie': ['a=1', 'b=2'], 'x-gone': undefined }, 'unused:1')).toEqual([
      'host', 'api.internal', 'accept', 'a/b', 'set-cookie', 'a=1', 'set-cookie', 'b=2',
    ]);
  });

  it('adds the upstream host when the request has none, as node:http does for an object', () => {
    expect(headerList({ accept: '*/*' }, '10.0.0.7:8080')).toEqual(['accept', '*/*', 'host', '10.0.0.7:8080']);
  });
});
