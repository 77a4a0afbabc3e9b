import { Router } from 'express';
import { z } from 'zod';
import type { AppDeps } from '../deps.js';
import { APP_STATES, TOKEN_KINDS } from '../domain/types.js';
import { parseBody } from '../http/body.js';
import { principalOf, requirePermission, requireSession } from '../http/session.js';
import { validate } from '../http/validate.js';
import { duration, expiresField, expirySpec, idParam, permissionsField, storedText, unwrap } from './params.js';
import { applicationView, tokenView } from './views.js';

const CreateToken = z.strictObject({
  name: storedText(100).min(1).optional(),
  description: storedText(1000).default(''),
  enabled: z.boolean().default(true),
  expires: expiresField.optional(),
  ttl: duration.optional(),
  permissions: permissionsField.optional(),
  kind: z.enum(TOKEN_KINDS).default('user'),
  default_app_state: z.enum(APP_STATES).optional(),
});

const UpdateToken = z.strictObject({
  name: storedText(100).min(1).optional(),
  description: storedText(1000).optional(),
  enabled: z.boolean().optional(),
  expires: expiresField.optional(),
  ttl: duration.optional(),
  permissions: permissionsField.optional(),
  default_app_state: z.enum(APP_STATES).optional(),
});

const Rotate = z.strictObject({ grace: z.union([z.literal('0'), duration]).optional() });
const Decide = z.strictObject({ state: z.enum(['allow', 'deny']) });
const APP_PARAM = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9 ._:/-]{0,63}$/);

/** Kriten's token CRUD on /api/v1/api_tokens, with retire, rotate, promote and application decisions. */
export function apiTokenRoutes(deps: AppDeps): Router {
  const router = Router();
  const session = requireSession(deps);
  const json = parseBody(false);

  router.post('/api/v1/api_tokens', session, requirePermission('CreateAPIToken'), ...json, async (req, res) => {
    const body = validate(CreateToken, req.body);
    const created = unwrap(
      await deps.tokens.create(principalOf(req), {
        name: body.name ?? (body.description.slice(0, 100) || 'api token'),
        description: body.description,
        enabled: body.enabled,
        expiry: expirySpec(body.expires, body.ttl, true)!,
        ...(body.permissions ? { permissions: body.permissions } : {}),
        kind: body.kind,
        ...(body.default_app_state ? { defaultAppState: body.default_app_state } : {}),
      }),
    );
    res.status(201).location(`/api/v1/api_tokens/${created.token.id}`);
    res.setHeader('Cache-Control', 'no-store');
    res.json({ ...tokenView(created.token), key: created.key });
  });

  router.get('/api/v1/api_tokens', session, requirePermission('ListAPITokens'), async (req, res) => {
    res.json((await deps.tokens.listOwn(principalOf(req))).map(tokenView));
  });

  router.get('/api/v1/api_tokens/all', session, requirePermission('ListAllAPITokens'), async (req, res) => {
    res.json((await deps.tokens.listAll(principalOf(req))).map(tokenView));
  });

  router.get('/api/v1/api_tokens/:id', session, requirePermission('GetAPIToken'), async (req, res) => {
    res.json(tokenView(unwrap(await deps.tokens.find(principalOf(req), idParam(req.params.id, 'token')))));
  });

  router.patch('/api/v1/api_tokens/:id', session, requirePermission('UpdateAPIToken'), ...json, async (req, res) => {
    const id = idParam(req.params.id, 'token');
    const body = validate(UpdateToken, req.body);
    const expiry = expirySpec(body.expires, body.ttl, false);
    const updated = unwrap(
      await deps.tokens.update(principalOf(req), id, {
        ...(body.name !== undefined ? { name: body.name } : {}),
        ...(body.description !== undefined ? { description: body.description } : {}),
        ...(body.enabled !== undefined ? { enabled: body.enabled } : {}),
        ...(expiry ? { expiry } : {}),
        ...(body.permissions ? { permissions: body.permissions } : {}),
        ...(body.default_app_state ? { defaultAppState: body.default_app_state } : {}),
      }),
    );
    res.json(tokenView(updated));
  });

  router.delete('/api/v1/api_tokens/:id', session, requirePermission('DeleteAPIToken'), async (req, res) => {
    unwrap(await deps.tokens.delete(principalOf(req), idParam(req.params.id, 'token')));
    res.status(204).end();
  });

  router.post('/api/v1/api_tokens/:id/retire', session, requirePermission('RetireAPIToken'), async (req, res) => {
    res.json(tokenView(unwrap(await deps.tokens.retire(principalOf(req), idParam(req.params.id, 'token')))));
  });

  router.post('/api/v1/api_tokens/:id/rotate', session, requirePermission('RotateAPIToken'), ...json, async (req, res) => {
    const id = idParam(req.params.id, 'token');
    const body = validate(Rotate, req.body);
    const graceMs = typeof body.grace === 'number' ? body.grace : 0;
    const rotated = unwrap(await deps.tokens.rotate(principalOf(req), id, graceMs));
    res.setHeader('Cache-Control', 'no-store');
    res.json({ ...tokenView(rotated.token), key: rotated.key });
  });

  router.post('/api/v1/api_tokens/:id/promote', session, requirePermission('PromoteAPIToken'), async (req, res) => {
    res.json(tokenView(unwrap(await deps.tokens.promote(principalOf(req), idParam(req.params.id, 'token')))));
  });

  router.get('/api/v1/api_tokens/:id/applications', session, requirePermission('ListApplications'), async (req, res) => {
    res.json(unwrap(await deps.tokens.applications(principalOf(req), idParam(req.params.id, 'token'))).map(applicationView));
  });

  router.patch('/api/v1/api_tokens/:id/applications/:name', session, requirePermission('DecideApplication'), ...json, async (req, res) => {
    const id = idParam(req.params.id, 'token');
    const name = validate(APP_PARAM, req.params.name);
    const body = validate(Decide, req.body);
    res.json(applicationView(unwrap(await deps.tokens.decideApplication(principalOf(req), id, name, body.state))));
  });

  return router;
}
