import { describe, expect, it } from 'vitest';
import { decodeMember, encodeEntriesMessage, encodeMember, parseMessage, revocationKeys } from '../src/index.js';
import { HOUR, T0, sessionEntry, tokenEntry } from './helpers.js';

describe('revocation keys', () => {
  it('share one hash tag, so every key sits in one Cluster slot', () => {
    expect(revocationKeys()).toEqual({
      set: '{portcullis}:revoked',
      sequence: '{portcullis}:seq',
      channel: '{portcullis}:revocations',
      resyncOwed: '{portcullis}:resync-owed',
    });
    expect(revocationKeys('staging')).toEqual({
      set: '{staging}:revoked',
      sequence: '{staging}:seq',
      channel: '{staging}:revocations',
      resyncOwed: '{staging}:resync-owed',
    });
  });

  it.each(['', 'a}b', '{a', 'a b'])('refuse the prefix %j', (prefix) => {
    expect(() => revocationKeys(prefix)).toThrow(TypeError);
  });
});

describe('set members', () => {
  it('encode a PAT revocation with its moment, and a session by jti alone', () => {
    expect(encodeMember(tokenEntry('0b7c-pat', 1234))).toBe('t:0b7c-pat:1234');
    expect(encodeMember(sessionEntry('jti-1'))).toBe('s:jti-1');
  });

  it('decode back, with the score as until', () => {
    expect(decodeMember('t:pat:with:colons:1234', String(T0 + HOUR))).toEqual(tokenEntry('pat:with:colons', 1234));
    expect(decodeMember('s:jti-1', T0 + HOUR)).toEqual(sessionEntry('jti-1', T0 + HOUR, 0));
  });

  it.each([
    ['', '1'],
    ['garbage', '1'],
    ['t:pat', '1'],
    ['t::123', '1'],
    ['t:pat:', '1'],
    ['t:pat:12a', '1'],
    ['t:pat:1e3', '1'],
    ['t:pat: 12', '1'],
    ['s:', '1'],
    ['s:a b', '1'],
    ['s:jti', 'inf'],
    ['s:jti', '1.5'],
    ['x:jti', '1'],
  ])('ignore %j scored %j', (member, score) => {
    expect(decodeMember(member, score)).toBeUndefined();
  });
});

describe('channel messages', () => {
  it('round-trip entries, leaving out fields that are not part of the protocol', () => {
    const raw = encodeEntriesMessage([{ ...tokenEntry('pat-1'), secret: 'x' } as ReturnType<typeof tokenEntry>]);
    expect(JSON.parse(raw)).toEqual({ v: 1, type: 'entries', entries: [tokenEntry('pat-1')] });
    expect(parseMessage(raw)).toEqual({ v: 1, type: 'entries', entries: [tokenEntry('pat-1')] });
  });

  it('read the sequence the writer spliced in, and drop one that is not a positive integer', () => {
    expect(parseMessage('{"seq":7,"v":1,"type":"resync"}')).toEqual({ v: 1, seq: 7, type: 'resync' });
    for (const seq of ['0', '-1', '1.5', '"3"', '9007199254740993', 'null']) {
      expect(parseMessage(`{"seq":${seq},"v":1,"type":"resync"}`)).toEqual({ v: 1, type: 'resync' });
    }
  });

  const malformed = ['', 'not json', '1', 'null', '"s"', '{}', '{"v":2,"type":"resync"}', '{"v":1,"type":"other"}'];
  it.each([...malformed, '{"v":1,"type":"entries"}'])('ignore %j', (raw) => {
    expect(parseMessage(raw)).toBeUndefined();
  });
});
