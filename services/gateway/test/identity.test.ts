import { describe, expect, it } from 'vitest';
import { claimsFor } from '../../../test/support/forge.js';
import { grants, identityFrom } from '../src/identity.js';

describe('identities built from verified claims', () => {
  it('share one parsed copy of a scope string, and grant from it', () => {
    const a = identityFrom(undefined, claimsFor({ scope: 'builds:read builds:write' }), 30)!;
    const b = identityFrom(undefined, claimsFor({ scope: 'builds:read builds:write' }), 30)!;
    expect(a.scopes).toBe(b.scopes);
    expect(a.jti).not.toBe(b.jti);
    expect(grants(a, 'builds:write')).toBe(true);
    expect(grants(a, 'builds:delete')).toBe(false);
    const all = identityFrom(undefined, claimsFor({ scope: '*' }), 30)!;
    expect([all.allScopes, grants(all, 'anything')]).toEqual([true, true]);
  });

  it('keep the token only when asked (a PAT session the gateway forwards)', () => {
    expect(identityFrom(undefined, claimsFor(), 30)!.token).toBeUndefined();
    expect(identityFrom('eyJ.session.token', claimsFor(), 30)!.token).toBe('eyJ.session.token');
  });

  it('refuse claims that cannot travel in a header', () => {
    expect(identityFrom(undefined, claimsFor({ sub: 'user\r\nx-injected: 1' }), 30)).toBeUndefined();
  });
});
