import { type VerifyResult, issuedAtMs } from '@portcullis/jwt';
import type { Store } from '../storage/store.js';
import type { Clock } from './clock.js';
import { effectivePermissions } from './permissions.js';
import type { Principal } from './principal.js';
import { type Result, fail, ok } from './result.js';
import type { Role } from './types.js';

/**
 * Turns a session token presented to the management API into a Principal, reading the store now:
 * the auth service is the record, so it does not rely on the Redis cache to know about revocations,
 * and a user's role change or deletion takes effect on their very next call.
 */
export async function authenticateSession(
  deps: { store: Store; verify: (token: string) => VerifyResult; clock: Clock },
  token: string,
  ip: string | null,
): Promise<Result<Principal>> {
  const verified = deps.verify(token);
  if (!verified.ok) return fail('invalid_token', 'The access token is invalid or expired');
  const c = verified.claims;
  if (await deps.store.isSessionRevoked({ jti: c.jti, tid: c.tid, sub: c.sub, app: c.app, iatMs: issuedAtMs(c) })) {
    return fail('invalid_token', 'The access token has been revoked');
  }

  // Account tokens act for the organization (only admins create them); everyone else has a user and a role now.
  let userId: string | null = c.sub;
  let role: Role = 'admin';
  if (c.tid) {
    const token = await deps.store.getToken(c.tid);
    if (!token || !token.enabled || token.revokedAt || (token.expiresAt && token.expiresAt.getTime() <= deps.clock())) {
      return fail('invalid_token', 'The access token has been revoked');
    }
    userId = token.ownerId;
    role = token.actingRole ?? 'admin';
  }
  if (userId !== null) {
    const user = await deps.store.getUser(userId);
    if (!user || user.organizationId !== c.org) return fail('invalid_token', 'The access token has been revoked');
    role = user.role;
  }
  return ok({
    userId,
    organizationId: c.org,
    role,
    permissions: effectivePermissions(c.scope.split(' ').filter(Boolean), role),
    ...(c.tid ? { tokenId: c.tid } : {}),
    jti: c.jti,
    actorId: userId ?? `token:${c.tid}`,
    ip,
  });
}
