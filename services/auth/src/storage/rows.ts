import type { ApiToken, AuditEvent, Organization, TokenApplication, User } from '../domain/types.js';

/** Row shapes as PostgreSQL returns them, and their mapping to domain records. */
export interface OrganizationRow {
  id: string;
  name: string;
  max_token_lifetime_sec: number | null;
  default_app_state: Organization['defaultAppState'];
  created_at: Date;
  updated_at: Date;
}

export interface UserRow {
  id: string;
  organization_id: string;
  email: string;
  password_hash: string;
  role: User['role'];
  created_at: Date;
  updated_at: Date;
}

export interface TokenRow {
  id: string;
  organization_id: string;
  kind: ApiToken['kind'];
  owner_id: string | null;
  created_by: string | null;
  lookup_id: string;
  secret_hash: string;
  previous_lookup_id: string | null;
  previous_secret_hash: string | null;
  previous_valid_until: Date | null;
  name: string;
  description: string;
  permissions: string[];
  enabled: boolean;
  expires_at: Date | null;
  default_app_state: ApiToken['defaultAppState'];
  created_at: Date;
  updated_at: Date;
  last_used_at: Date | null;
  last_used_ip: string | null;
  revoked_at: Date | null;
  acting_role: ApiToken['actingRole'];
}

export interface ApplicationRow {
  token_id: string;
  name: string;
  state: TokenApplication['state'];
  first_seen_at: Date;
  decided_at: Date | null;
  decided_by: string | null;
}

export interface AuditRow {
  id: string | number;
  organization_id: string | null;
  at: Date;
  actor_id: string | null;
  action: string;
  target_type: string | null;
  target_id: string | null;
  ip: string | null;
  detail: Record<string, unknown>;
}

export const toOrganization = (r: OrganizationRow): Organization => ({
  id: r.id,
  name: r.name,
  maxTokenLifetimeSec: r.max_token_lifetime_sec,
  defaultAppState: r.default_app_state,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

export const toUser = (r: UserRow): User => ({
  id: r.id,
  organizationId: r.organization_id,
  email: r.email,
  role: r.role,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

export const toToken = (r: TokenRow): ApiToken => ({
  id: r.id,
  organizationId: r.organization_id,
  kind: r.kind,
  ownerId: r.owner_id,
  createdBy: r.created_by,
  name: r.name,
  description: r.description,
  permissions: r.permissions,
  enabled: r.enabled,
  expiresAt: r.expires_at,
  defaultAppState: r.default_app_state,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  lastUsedAt: r.last_used_at,
  lastUsedIp: r.last_used_ip,
  revokedAt: r.revoked_at,
  actingRole: r.acting_role,
});

export const toApplication = (r: ApplicationRow): TokenApplication => ({
  tokenId: r.token_id,
  name: r.name,
  state: r.state,
  firstSeenAt: r.first_seen_at,
  decidedAt: r.decided_at,
  decidedBy: r.decided_by,
});

export const toAuditEvent = (r: AuditRow): AuditEvent => ({
  id: String(r.id),
  organizationId: r.organization_id,
  at: r.at,
  actorId: r.actor_id,
  action: r.action,
  targetType: r.target_type,
  targetId: r.target_id,
  ip: r.ip,
  detail: r.detail,
});
