import type { Role } from './types.js';

/** Who is calling the management API, as established from a verified session token and the store now. */
export interface Principal {
  /** The user acting, or null for an account token (it acts for the organization). */
  userId: string | null;
  organizationId: string;
  role: Role;
  /** Effective permissions now: the session's scope ∩ what the role allows. */
  permissions: string[];
  /** The PAT the session came from; absent for password logins. */
  tokenId?: string;
  jti: string;
  /** For the audit log: user id, or `token:<id>` for account tokens. */
  actorId: string;
  ip: string | null;
}
