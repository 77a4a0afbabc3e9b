import { describe, expect, it } from 'vitest';
import { BASE62_ALPHABET, formatPat, generatePat, parsePat, randomBase62 } from '../src/index.js';

describe('PAT format', () => {
  it('generates keys that parse back to their parts', () => {
    const { key, lookupId, secret } = generatePat();
    expect(key.startsWith('pcl_')).toBe(true);
    expect(parsePat(key)).toEqual({ ok: true, pat: { lookupId, secret } });
  });

  it('honours a configured prefix', () => {
    const { key } = generatePat('acme_');
    expect(key.startsWith('acme_')).toBe(true);
    expect(parsePat(key, 'acme_').ok).toBe(true);
    expect(parsePat(key)).toEqual({ ok: false, reason: 'prefix' });
  });

  it('rejects every single-character typo through the checksum', () => {
    const { key } = generatePat();
    let rejected = 0;
    for (let i = 4; i < key.length; i++) {
      const replacement = key[i] === 'a' ? 'b' : 'a';
      const typo = key.slice(0, i) + replacement + key.slice(i + 1);
      if (!parsePat(typo).ok) rejected++;
    }
    expect(rejected).toBe(key.length - 4);
  });

  it('rejects wrong length, bad characters and random strings', () => {
    const { key } = generatePat();
    expect(parsePat(key.slice(0, -1))).toEqual({ ok: false, reason: 'length' });
    expect(parsePat(key + 'x')).toEqual({ ok: false, reason: 'length' });
    expect(parsePat(key.slice(0, 10) + '-' + key.slice(11))).toEqual({ ok: false, reason: 'charset' });
    expect(parsePat('pcl_' + randomBase62(54))).toEqual({ ok: false, reason: 'checksum' });
    expect(parsePat('')).toEqual({ ok: false, reason: 'prefix' });
  });

  it('formats deterministically from its parts', () => {
    const a = formatPat('pcl_', '0'.repeat(16), '1'.repeat(32));
    expect(a).toBe(formatPat('pcl_', '0'.repeat(16), '1'.repeat(32)));
    expect(parsePat(a).ok).toBe(true);
  });

  it('draws characters from the whole base62 alphabet', () => {
    const seen = new Set(randomBase62(5000));
    expect(seen.size).toBe(BASE62_ALPHABET.length);
  });
});
