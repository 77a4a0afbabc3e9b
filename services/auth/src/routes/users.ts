import { Router } from 'express';
import { z } from 'zod';
import type { AppDeps } from '../deps.js';
import { MAX_SECRET_BYTES, MIN_PASSWORD_LENGTH } from '../domain/passwords.js';
import { APP_STATES, ROLES } from '../domain/types.js';
import { parseBody } from '../http/body.js';
import { principalOf, requirePermission, requireSession } from '../http/session.js';
import { validate } from '../http/validate.js';
import { MAX_LIFETIME_SEC, idParam, lifetimeSeconds, storedText, unwrap } from './params.js';
import { auditView, organizationView, userView } from './views.js';

const email = z.email().max(320).transform((e) => e.toLowerCase());
const password = z
  .string()
  .min(MIN_PASSWORD_LENGTH, `must be at least ${MIN_PASSWORD_LENGTH} characters`)
  .refine((p) => Buffer.byteLength(p) <= MAX_SECRET_BYTES, `must be at most ${MAX_SECRET_BYTES} bytes`);
const CreateUser = z.strictObject({ email, password, role: z.enum(ROLES).default('normal') });
const UpdateUser = z.strictObject({ email: email.optional(), password: password.optional(), role: z.enum(ROLES).optional() });
// `max_token_lifetime_seconds` is what GET answers: accepted too, so an organization read can be sent back.
const UpdateOrganization = z
  .strictObject({
    name: storedText(100).min(1).optional(),
    max_token_lifetime: z.union([lifetimeSeconds, z.null()]).optional(),
    max_token_lifetime_seconds: z.union([z.number().int().min(1).max(MAX_LIFETIME_SEC), z.null()]).optional(),
    default_app_state: z.enum(APP_STATES).optional(),
  })
  .refine((body) => body.max_token_lifetime === undefined || body.max_token_lifetime_seconds === undefined, {
    message: 'give max_token_lifetime or max_token_lifetime_seconds, not both',
    path: ['max_token_lifetime_seconds'],
  });
const AuditQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  before: z.string().regex(/^\d{1,18}$/).optional(),
});

/** Users (admins manage them), the caller's organization and its policy, and the audit log. */
export function userRoutes(deps: AppDeps): Router {
  const router = Router();
  const session = requireSession(deps);
  const json = parseBody(false);

  router.get('/api/v1/organization', session, requirePermission('GetOrganization'), async (req, res) => {
    res.json(organizationView(await deps.users.organization(principalOf(req))));
  });

  router.patch('/api/v1/organization', session, requirePermission('UpdateOrganization'), ...json, async (req, res) => {
    const body = validate(UpdateOrganization, req.body);
    const org = unwrap(
      await deps.users.updateOrganization(principalOf(req), {
        ...(body.name !== undefined ? { name: body.name } : {}),
        ...(body.max_token_lifetime !== undefined ? { maxTokenLifetimeSec: body.max_token_lifetime } : {}),
        ...(body.max_token_lifetime_seconds !== undefined ? { maxTokenLifetimeSec: body.max_token_lifetime_seconds } : {}),
        ...(body.default_app_state !== undefined ? { defaultAppState: body.default_app_state } : {}),
      }),
    );
    res.json(organizationView(org));
  });

  router.get('/api/v1/users', session, requirePermission('ListUsers'), async (req, res) => {
    res.json((await deps.users.list(principalOf(req))).map(userView));
  });

  router.get('/api/v1/users/me', session, async (req, res) => {
    const principal = principalOf(req);
    if (principal.userId === null) {
      res.json({ id: null, kind: 'account', token: principal.tokenId, role: principal.role, organization: principal.organizationId, permissions: principal.permissions });
      return;
    }
    const user = unwrap(await deps.users.find(principal, principal.userId));
    res.json({ ...userView(user), permissions: principal.permissions });
  });

  router.post('/api/v1/users', session, requirePermission('CreateUser'), ...json, async (req, res) => {
    const body = validate(CreateUser, req.body);
    const user = unwrap(await deps.users.create(principalOf(req), body));
    res.status(201).location(`/api/v1/users/${user.id}`).json(userView(user));
  });

  router.get('/api/v1/users/:id', session, requirePermission('GetUser'), async (req, res) => {
    const principal = principalOf(req);
    const id = idParam(req.params.id, 'user');
    // Non-admins may look only at themselves; anyone else is "not found" to them.
    if (principal.role !== 'admin' && principal.userId !== id) unwrap({ ok: false, error: { code: 'not_found', message: 'No such user' } });
    res.json(userView(unwrap(await deps.users.find(principal, id))));
  });

  router.patch('/api/v1/users/:id', session, requirePermission('UpdateUser'), ...json, async (req, res) => {
    const body = validate(UpdateUser, req.body);
    res.json(userView(unwrap(await deps.users.update(principalOf(req), idParam(req.params.id, 'user'), body))));
  });

  router.delete('/api/v1/users/:id', session, requirePermission('DeleteUser'), async (req, res) => {
    unwrap(await deps.users.delete(principalOf(req), idParam(req.params.id, 'user')));
    res.status(204).end();
  });

  router.get('/api/v1/audit_events', session, requirePermission('ListAuditEvents'), async (req, res) => {
    const query = validate(AuditQuery, req.query);
    const events = await deps.store.listAudit(principalOf(req).organizationId, {
      limit: query.limit,
      ...(query.before ? { before: query.before } : {}),
    });
    const last = events.at(-1);
    res.json({ events: events.map(auditView), next: events.length === query.limit && last ? `/api/v1/audit_events?limit=${query.limit}&before=${last.id}` : null });
  });

  return router;
}
