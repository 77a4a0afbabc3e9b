import type { Role } from './types.js';

/**
 * The permission catalogue (Appclacks style): one permission per management action, plus `*`.
 * Permissions for upstream APIs are whatever the gateway's route table declares; they follow
 * UPSTREAM_PERMISSION_RE and are checked by the gateway against the session's scope.
 */
export const ALL = '*';

export const MANAGEMENT_PERMISSIONS = [
  'GetOrganization',
  'UpdateOrganization',
  'ListAPITokens',
  'ListAllAPITokens',
  'GetAPIToken',
  'CreateAPIToken',
  'UpdateAPIToken',
  'DeleteAPIToken',
  'RetireAPIToken',
  'RotateAPIToken',
  'PromoteAPIToken',
  'ListApplications',
  'DecideApplication',
  'ListUsers',
  'GetUser',
  'CreateUser',
  'UpdateUser',
  'DeleteUser',
  'ListAuditEvents',
  'IntrospectToken',
] as const;

const MANAGEMENT = new Set<string>(MANAGEMENT_PERMISSIONS);
export const UPSTREAM_PERMISSION_RE = /^[A-Za-z][A-Za-z0-9:._/-]{0,63}$/;

/** Actions only admins may take, whatever their token says (Circonus's Admin role). */
const ADMIN_ONLY = new Set<string>([
  'UpdateOrganization',
  'ListAllAPITokens',
  'PromoteAPIToken',
  'DecideApplication',
  'ListUsers',
  'CreateUser',
  'UpdateUser',
  'DeleteUser',
  'ListAuditEvents',
  'IntrospectToken',
]);

/** What read-only users may do among management actions: look, never change. */
const READ_ONLY = new Set<string>(['GetOrganization', 'ListAPITokens', 'GetAPIToken', 'ListApplications', 'GetUser']);

export function isKnownPermission(permission: string): boolean {
  return permission === ALL || MANAGEMENT.has(permission) || UPSTREAM_PERMISSION_RE.test(permission);
}

/** Whether a user with `role` may hold `permission` at all. Upstream permissions: every role (read_only is limited to safe methods by the gateway). */
export function roleAllows(role: Role, permission: string): boolean {
  if (role === 'admin') return true;
  if (permission === ALL) return true; // narrowed per action below; `*` means "all my role allows"
  if (!MANAGEMENT.has(permission)) return true;
  if (role === 'normal') return !ADMIN_ONLY.has(permission);
  return READ_ONLY.has(permission);
}

/** The token's permissions ∩ what the owner's role allows now. */
export function effectivePermissions(tokenPermissions: readonly string[], role: Role): string[] {
  return tokenPermissions.filter((p) => roleAllows(role, p));
}

/** Whether a holder of `granted` (already effective) may perform `action` with `role`. */
export function permits(granted: readonly string[], role: Role, action: string): boolean {
  if (!roleAllows(role, action)) return false;
  return granted.includes(ALL) || granted.includes(action);
}

