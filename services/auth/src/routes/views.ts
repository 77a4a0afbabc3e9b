import type { ApiToken, AuditEvent, Organization, TokenApplication, User } from '../domain/types.js';

/** JSON shapes of the management API (snake_case, Kriten's field names). Keys never appear here. */
const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function tokenView(t: ApiToken) {
  return {
    id: t.id,
    kind: t.kind,
    owner: t.ownerId,
    organization: t.organizationId,
    name: t.name,
    description: t.description,
    enabled: t.enabled,
    expires: iso(t.expiresAt),
    permissions: t.permissions,
    default_app_state: t.defaultAppState,
    created_at: iso(t.createdAt),
    updated_at: iso(t.updatedAt),
    last_used_at: iso(t.lastUsedAt),
    last_used_ip: t.lastUsedIp,
    acting_role: t.actingRole,
    retired: t.revokedAt !== null,
    revoked_at: iso(t.revokedAt),
  };
}

export function userView(u: User) {
  return { id: u.id, email: u.email, role: u.role, organization: u.organizationId, created_at: iso(u.createdAt), updated_at: iso(u.updatedAt) };
}

export function organizationView(o: Organization) {
  return {
    id: o.id,
    name: o.name,
    max_token_lifetime_seconds: o.maxTokenLifetimeSec,
    default_app_state: o.defaultAppState,
    created_at: iso(o.createdAt),
    updated_at: iso(o.updatedAt),
  };
}

export function applicationView(a: TokenApplication) {
  return { name: a.name, state: a.state, first_seen_at: iso(a.firstSeenAt), decided_at: iso(a.decidedAt), decided_by: a.decidedBy };
}

export function auditView(e: AuditEvent) {
  return {
    id: e.id,
    at: iso(e.at),
    actor: e.actorId,
    action: e.action,
    target_type: e.targetType,
    target_id: e.targetId,
    ip: e.ip,
    detail: e.detail,
  };
}
