import { HttpError } from '@portcullis/errors';
import { issuedAtMs } from '@portcullis/jwt';
import { looksLikePat } from '@portcullis/token';
import { Router } from 'express';
import { z } from 'zod';
import type { AppDeps } from '../deps.js';
import { parseBody } from '../http/body.js';
import { oauthErrors } from '../http/errors.js';
import { principalOf, requirePermission, requireSession } from '../http/session.js';

const TokenParam = z.object({ token: z.string().min(1).max(8192), token_type_hint: z.string().max(64).optional() });

function tokenParam(body: unknown): string {
  const parsed = TokenParam.safeParse(body);
  if (!parsed.success) throw new HttpError('invalid_request', 'token is required, once, as a string');
  return parsed.data.token;
}

/** RFC 7009 revocation and RFC 7662 introspection, for session JWTs and PATs alike. */
export function oauthRoutes(deps: AppDeps): Router {
  const router = Router();
  const patPrefix = deps.settings.patPrefix;

  // Possession is the authorisation: whoever holds a token may end it. Unknown tokens answer 200 too.
  router.post('/auth/v1/revoke', oauthErrors, ...parseBody(true), async (req, res) => {
    const token = tokenParam(req.body);
    const ip = req.ip ?? 'unknown';
    res.setHeader('Cache-Control', 'no-store');
    if (looksLikePat(token, patPrefix)) {
      const wait = await deps.limiter.retryAfter('ip', ip);
      if (wait > 0) throw new HttpError('rate_limited', 'Too many failed attempts; try again later', { headers: { 'Retry-After': String(wait) } });
      const verified = await deps.exchange.verifyPat(token, { ip });
      if (verified.ok) await deps.tokens.retireByHolder(verified.value.token, ip);
      else if (verified.error.code === 'invalid_grant') await deps.limiter.recordFailure('ip', ip);
    } else {
      const verified = deps.verify(token);
      if (verified.ok) await deps.tokens.revokeSession(verified.claims, ip);
    }
    res.status(200).end();
  });

  router.post('/auth/v1/introspect', oauthErrors, requireSession(deps), requirePermission('IntrospectToken'), ...parseBody(true), async (req, res) => {
    const token = tokenParam(req.body);
    const caller = principalOf(req);
    res.setHeader('Cache-Control', 'no-store');
    if (looksLikePat(token, patPrefix)) {
      const verified = await deps.exchange.verifyPat(token, { ip: req.ip ?? null });
      if (!verified.ok || verified.value.token.organizationId !== caller.organizationId) {
        res.json({ active: false });
        return;
      }
      const t = verified.value.token;
      res.json({
        active: true,
        token_type: 'personal_access_token',
        sub: t.ownerId ?? t.id,
        org: t.organizationId,
        tid: t.id,
        scope: t.permissions.join(' '),
        ...(t.expiresAt ? { exp: Math.floor(t.expiresAt.getTime() / 1000) } : {}),
        iat: Math.floor(t.createdAt.getTime() / 1000),
      });
      return;
    }
    const verified = deps.verify(token);
    if (!verified.ok || verified.claims.org !== caller.organizationId) {
      res.json({ active: false });
      return;
    }
    const c = verified.claims;
    const revoked = await deps.store.isSessionRevoked({ jti: c.jti, tid: c.tid, sub: c.sub, app: c.app, iatMs: issuedAtMs(c) });
    res.json(revoked ? { active: false } : { active: true, token_type: 'Bearer', ...c });
  });

  return router;
}
