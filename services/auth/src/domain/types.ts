/** The auth service's domain records (design.md, "Domain"). Storage maps rows to these. */
export const ROLES = ['admin', 'normal', 'read_only'] as const;
export type Role = (typeof ROLES)[number];

export const APP_STATES = ['allow', 'pending', 'deny'] as const;
export type AppState = (typeof APP_STATES)[number];

export const TOKEN_KINDS = ['user', 'account'] as const;
export type TokenKind = (typeof TOKEN_KINDS)[number];

export interface Organization {
  id: string;
  name: string;
  /** Longest lifetime a PAT may have in this organization, in seconds; null = no limit. */
  maxTokenLifetimeSec: number | null;
  defaultAppState: AppState;
  createdAt: Date;
  updatedAt: Date;
}

export interface User {
  id: string;
  organizationId: string;
  email: string;
  role: Role;
  createdAt: Date;
  updatedAt: Date;
}

export interface ApiToken {
  id: string;
  organizationId: string;
  kind: TokenKind;
  /** The user the token acts for; null for account tokens, which belong to the organization. */
  ownerId: string | null;
  createdBy: string | null;
  name: string;
  description: string;
  permissions: string[];
  enabled: boolean;
  expiresAt: Date | null;
  defaultAppState: AppState;
  createdAt: Date;
  updatedAt: Date;
  lastUsedAt: Date | null;
  lastUsedIp: string | null;
  /** Set when the token is retired: revoked for good, kept for the record. */
  revokedAt: Date | null;
  /**
   * For account tokens: the most they may do, as a role. `admin` when an admin created the token; the
   * previous owner's role when a user token was promoted, so promotion never raises what a token can do.
   */
  actingRole: Role | null;
}

/** What an exchange needs to check a presented key: never leaves the auth service. */
export interface TokenCredential {
  token: ApiToken;
  secretHash: string;
  /** The key presented was the pre-rotation one, still inside its grace period. */
  previous: boolean;
  /** Role of the owner now (account tokens: admin, as they act for the organization). */
  ownerRole: Role;
}

export interface TokenApplication {
  tokenId: string;
  name: string;
  state: AppState;
  firstSeenAt: Date;
  decidedAt: Date | null;
  decidedBy: string | null;
}

export interface AuditEvent {
  id: string;
  organizationId: string | null;
  at: Date;
  actorId: string | null;
  action: string;
  targetType: string | null;
  targetId: string | null;
  ip: string | null;
  detail: Record<string, unknown>;
}
