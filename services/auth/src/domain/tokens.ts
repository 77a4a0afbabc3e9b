import { randomUUID } from 'node:crypto';
import { generatePat } from '@portcullis/token';
import type { RevocationEntry } from '@portcullis/revocation';
import type { Store, StoreQueries } from '../storage/store.js';
import type { NewAuditEvent } from '../storage/records.js';
import type { TokenPatch } from '../storage/tokens.js';
import type { SessionClaims } from '@portcullis/jwt';
import type { Clock } from './clock.js';
import type { Hasher } from './passwords.js';
import { ALL, isKnownPermission, roleAllows } from './permissions.js';
import type { Principal } from './principal.js';
import { type Result, fail, ok } from './result.js';
import type { Revoker } from './revoker.js';
import type { ApiToken, AppState, Organization, TokenApplication, TokenKind } from './types.js';

export const DEFAULT_TOKEN_TTL_MS = 72 * 3_600_000;

/** How much an application state holds back: a token's default may only be stricter than the organization's. */
const APP_STATE_STRICTNESS: Record<AppState, number> = { allow: 0, pending: 1, deny: 2 };

/** `expires` as the API takes it: a moment, `null` for never, or a TTL from now; neither = the default TTL. */
export type ExpirySpec = { at: Date | null } | { ttlMs: number } | { default: true };

export interface CreateTokenInput {
  name: string;
  description: string;
  enabled: boolean;
  expiry: ExpirySpec;
  permissions?: string[];
  kind: TokenKind;
  defaultAppState?: AppState;
}

export interface UpdateTokenInput {
  name?: string;
  description?: string;
  enabled?: boolean;
  expiry?: ExpirySpec;
  permissions?: string[];
  defaultAppState?: AppState;
}

export interface TokenServiceDeps {
  store: Store;
  hasher: Hasher;
  revoker: Revoker;
  clock: Clock;
  patPrefix: string;
  audit: (tx: StoreQueries, actor: Principal, action: string, token: ApiToken, detail?: Record<string, unknown>) => Promise<void>;
  auditRaw: (tx: StoreQueries, event: NewAuditEvent) => Promise<void>;
}

/** Token management (Kriten's API with Circonus's rules): every change that takes power away revokes sessions. */
export class TokenService {
  constructor(private readonly deps: TokenServiceDeps) {}

  private canSee(actor: Principal, token: ApiToken): boolean {
    if (token.organizationId !== actor.organizationId) return false;
    if (actor.role === 'admin') return true;
    return token.kind === 'user' && token.ownerId !== null && token.ownerId === actor.userId;
  }

  /** The token if the actor may see it; someone else's answers exactly like a missing one. */
  async find(actor: Principal, id: string): Promise<Result<ApiToken>> {
    const token = await this.deps.store.getToken(id);
    if (!token || !this.canSee(actor, token)) return fail('not_found', 'No such token');
    return ok(token);
  }

  async listOwn(actor: Principal): Promise<ApiToken[]> {
    if (actor.userId === null) return this.deps.store.listTokens({ organizationId: actor.organizationId, kind: 'account' });
    return this.deps.store.listTokens({ organizationId: actor.organizationId, ownerId: actor.userId, kind: 'user' });
  }

  async listAll(actor: Principal): Promise<ApiToken[]> {
    return this.deps.store.listTokens({ organizationId: actor.organizationId });
  }

  private checkPermissions(actor: Principal, requested: readonly string[]): Result<string[]> {
    const unknown = requested.filter((p) => !isKnownPermission(p));
    if (unknown.length > 0) {
      return fail('validation_failed', `Unknown permissions: ${unknown.join(', ')}`, unknown.map((p) => ({ path: 'permissions', message: `unknown permission "${p}"` })));
    }
    // Circonus: nobody grants a token more than their own role, nor more than the session they act with.
    const holdsAll = actor.permissions.includes(ALL);
    const beyond = requested.filter((p) =>
      p === ALL ? !holdsAll : !roleAllows(actor.role, p) || !(holdsAll || actor.permissions.includes(p)),
    );
    if (beyond.length > 0) {
      return fail('forbidden', `Your role (${actor.role}) and session cannot grant: ${[...new Set(beyond)].join(', ')}`);
    }
    return ok([...new Set(requested)]);
  }

  private resolveExpiry(spec: ExpirySpec, org: Organization): Result<Date | null> {
    const now = this.deps.clock();
    const max = org.maxTokenLifetimeSec;
    let at: Date | null;
    // The default was not asked for: under a shorter policy it shrinks to fit instead of failing.
    if ('default' in spec) at = new Date(now + (max === null ? DEFAULT_TOKEN_TTL_MS : Math.min(DEFAULT_TOKEN_TTL_MS, max * 1000)));
    else if ('ttlMs' in spec) at = new Date(now + spec.ttlMs);
    else at = spec.at;
    if (at !== null && at.getTime() <= now) return fail('validation_failed', 'expires must be in the future');
    if (max !== null && (at === null || at.getTime() > now + max * 1000)) {
      return fail('validation_failed', `This organization's tokens may live at most ${max} seconds; set expires or ttl within it`);
    }
    return ok(at);
  }

  /**
   * The organization's default application state is its policy: only admins may give a token a more
   * permissive one (otherwise anyone could set `allow` and skip the admin's decision on every application).
   */
  private checkAppState(actor: Principal, state: AppState | undefined, org: Organization): Result<void> {
    if (state === undefined || actor.role === 'admin' || APP_STATE_STRICTNESS[state] >= APP_STATE_STRICTNESS[org.defaultAppState]) return ok(undefined);
    return fail('forbidden', `Only admins can give a token a default_app_state more permissive than the organization's (${org.defaultAppState})`);
  }

  private async organization(actor: Principal): Promise<Organization> {
    const org = await this.deps.store.getOrganization(actor.organizationId);
    if (!org) throw new Error(`organization ${actor.organizationId} missing`);
    return org;
  }

  async create(actor: Principal, input: CreateTokenInput): Promise<Result<{ token: ApiToken; key: string }>> {
    if (input.kind === 'account' && actor.role !== 'admin') return fail('forbidden', 'Only admins can create account tokens');
    if (input.kind === 'user' && actor.userId === null) return fail('forbidden', 'An account token can only create account tokens');
    // Default: all the owner may do, which from a narrower session is what that session holds.
    const permissions = this.checkPermissions(actor, input.permissions ?? (actor.permissions.includes(ALL) ? [ALL] : actor.permissions));
    if (!permissions.ok) return permissions;
    const org = await this.organization(actor);
    const appState = this.checkAppState(actor, input.defaultAppState, org);
    if (!appState.ok) return appState;
    const expiresAt = this.resolveExpiry(input.expiry, org);
    if (!expiresAt.ok) return expiresAt;

    const pat = generatePat(this.deps.patPrefix);
    const secretHash = await this.deps.hasher.hash(pat.secret);
    const token = await this.deps.store.transaction(async (tx) => {
      const created = await tx.insertToken({
        id: randomUUID(),
        organizationId: actor.organizationId,
        kind: input.kind,
        ownerId: input.kind === 'user' ? actor.userId : null,
        createdBy: actor.userId,
        lookupId: pat.lookupId,
        secretHash,
        name: input.name,
        description: input.description,
        permissions: permissions.value,
        enabled: input.enabled,
        expiresAt: expiresAt.value,
        defaultAppState: input.defaultAppState ?? org.defaultAppState,
      });
      await this.deps.audit(tx, actor, 'token.created', created, { kind: created.kind, permissions: created.permissions });
      return created;
    });
    return ok({ token, key: pat.key });
  }

  async update(actor: Principal, id: string, input: UpdateTokenInput): Promise<Result<ApiToken>> {
    const found = await this.find(actor, id);
    if (!found.ok) return found;
    const before = found.value;
    if (before.revokedAt) return fail('conflict', 'A retired token cannot be changed');
    const patch: TokenPatch = {};
    if (input.name !== undefined) patch.name = input.name;
    if (input.description !== undefined) patch.description = input.description;
    if (input.enabled !== undefined) patch.enabled = input.enabled;
    if (input.defaultAppState !== undefined) {
      const appState = this.checkAppState(actor, input.defaultAppState, await this.organization(actor));
      if (!appState.ok) return appState;
      patch.defaultAppState = input.defaultAppState;
    }
    if (input.permissions !== undefined) {
      const permissions = this.checkPermissions(actor, input.permissions);
      if (!permissions.ok) return permissions;
      patch.permissions = permissions.value;
    }
    if (input.expiry !== undefined) {
      const expiresAt = this.resolveExpiry(input.expiry, await this.organization(actor));
      if (!expiresAt.ok) return expiresAt;
      patch.expiresAt = expiresAt.value;
    }

    // Anything that takes power away ends the sessions already minted from the token.
    const disabled = before.enabled && patch.enabled === false;
    const shortened = patch.expiresAt !== undefined && patch.expiresAt !== null &&
      (before.expiresAt === null || patch.expiresAt < before.expiresAt);
    const narrowed = patch.permissions !== undefined && before.permissions.some((p) => !patch.permissions!.includes(p));
    const entries: RevocationEntry[] = disabled || shortened || narrowed ? [this.deps.revoker.tokenEntry(id)] : [];

    const updated = await this.deps.store.transaction(async (tx) => {
      const after = await tx.updateToken(id, patch);
      if (!after) return null;
      await this.deps.revoker.record(tx, entries);
      const action = disabled ? 'token.disabled' : !before.enabled && patch.enabled === true ? 'token.enabled' : 'token.updated';
      await this.deps.audit(tx, actor, action, after, { fields: Object.keys(patch), sessionsRevoked: entries.length > 0 });
      return after;
    });
    if (!updated) return fail('not_found', 'No such token');
    await this.deps.revoker.publish(entries);
    return ok(updated);
  }

  async delete(actor: Principal, id: string): Promise<Result<ApiToken>> {
    const found = await this.find(actor, id);
    if (!found.ok) return found;
    const entries = [this.deps.revoker.tokenEntry(id)];
    const deleted = await this.deps.store.transaction(async (tx) => {
      const gone = await tx.deleteToken(id);
      if (!gone) return null;
      await this.deps.revoker.record(tx, entries);
      await this.deps.audit(tx, actor, 'token.deleted', gone);
      return gone;
    });
    if (!deleted) return fail('not_found', 'No such token');
    await this.deps.revoker.publish(entries);
    return ok(deleted);
  }

  async retire(actor: Principal, id: string): Promise<Result<ApiToken>> {
    const found = await this.find(actor, id);
    if (!found.ok) return found;
    if (found.value.revokedAt) return ok(found.value);
    const entries = [this.deps.revoker.tokenEntry(id)];
    const retired = await this.deps.store.transaction(async (tx) => {
      const after = await tx.retireToken(id, new Date(this.deps.clock()));
      if (!after) return null;
      await this.deps.revoker.record(tx, entries);
      await this.deps.audit(tx, actor, 'token.retired', after);
      return after;
    });
    if (!retired) return fail('not_found', 'No such token');
    await this.deps.revoker.publish(entries);
    return ok(retired);
  }

  /** RFC 7009 with a PAT: its holder proved possession of the key, so it is retired. */
  async retireByHolder(token: ApiToken, ip: string): Promise<void> {
    if (token.revokedAt) return;
    const entries = [this.deps.revoker.tokenEntry(token.id)];
    await this.deps.store.transaction(async (tx) => {
      const after = await tx.retireToken(token.id, new Date(this.deps.clock()));
      if (!after) return;
      await this.deps.revoker.record(tx, entries);
      await this.deps.auditRaw(tx, { organizationId: token.organizationId, actorId: `token:${token.id}`, action: 'token.retired', targetType: 'token', targetId: token.id, ip, detail: { via: 'revocation endpoint' } });
    });
    await this.deps.revoker.publish(entries);
  }

  /** RFC 7009 with a session token: that one session ends; the PAT it came from keeps working. */
  async revokeSession(claims: SessionClaims, ip: string): Promise<void> {
    const entry = this.deps.revoker.sessionEntry(claims.jti, claims.exp);
    await this.deps.store.transaction(async (tx) => {
      await this.deps.revoker.record(tx, [entry]);
      await this.deps.auditRaw(tx, { organizationId: claims.org, actorId: claims.tid ? `token:${claims.tid}` : claims.sub, action: 'session.revoked', targetType: 'session', targetId: claims.jti, ip });
    });
    await this.deps.revoker.publish([entry]);
  }

  /** A new key for the same record; the old one works for `graceMs` more, or stops (with its sessions) now. */
  async rotate(actor: Principal, id: string, graceMs: number): Promise<Result<{ token: ApiToken; key: string }>> {
    const found = await this.find(actor, id);
    if (!found.ok) return found;
    if (found.value.revokedAt) return fail('conflict', 'A retired token cannot be rotated');
    const pat = generatePat(this.deps.patPrefix);
    const secretHash = await this.deps.hasher.hash(pat.secret);
    const entries = graceMs === 0 ? [this.deps.revoker.tokenEntry(id)] : [];
    const graceUntil = graceMs === 0 ? null : new Date(this.deps.clock() + graceMs);
    const rotated = await this.deps.store.transaction(async (tx) => {
      const after = await tx.rotateToken(id, { lookupId: pat.lookupId, secretHash }, graceUntil);
      if (!after) return null;
      await this.deps.revoker.record(tx, entries);
      await this.deps.audit(tx, actor, 'token.rotated', after, { graceSeconds: Math.floor(graceMs / 1000) });
      return after;
    });
    if (!rotated) return fail('not_found', 'No such token');
    await this.deps.revoker.publish(entries);
    return ok({ token: rotated, key: pat.key });
  }

  /** User token → account token, irreversibly (Circonus: for when its owner leaves). Admins only. */
  async promote(actor: Principal, id: string): Promise<Result<ApiToken>> {
    const found = await this.find(actor, id);
    if (!found.ok) return found;
    if (found.value.kind === 'account') return fail('conflict', 'The token is already an account token');
    if (found.value.revokedAt) return fail('conflict', 'A retired token cannot be promoted');
    const promoted = await this.deps.store.transaction(async (tx) => {
      const after = await tx.promoteToken(id);
      if (!after) return null;
      await this.deps.audit(tx, actor, 'token.promoted', after, { previousOwner: found.value.ownerId });
      return after;
    });
    return promoted ? ok(promoted) : fail('not_found', 'No such token');
  }

  async applications(actor: Principal, id: string): Promise<Result<TokenApplication[]>> {
    const found = await this.find(actor, id);
    if (!found.ok) return found;
    return ok(await this.deps.store.listApplications(id));
  }

  /** An admin's decision for one application; denying it also ends the sessions issued to it. */
  async decideApplication(actor: Principal, id: string, name: string, state: 'allow' | 'deny'): Promise<Result<TokenApplication>> {
    const found = await this.find(actor, id);
    if (!found.ok) return found;
    const entries = state === 'deny' ? [this.deps.revoker.tokenEntry(applicationSubject(id, name))] : [];
    const decided = await this.deps.store.transaction(async (tx) => {
      const app = await tx.decideApplication(id, name, state, actor.actorId);
      await this.deps.revoker.record(tx, entries);
      await this.deps.audit(tx, actor, 'application.decided', found.value, { application: name, state });
      return app;
    });
    await this.deps.revoker.publish(entries);
    return ok(decided);
  }
}

/**
 * The revocation id that covers the sessions one token issued to one application. Sessions carry it as
 * `tid` + `app`; the gateway checks `<tid>/<app>` alongside `tid`.
 */
export function applicationSubject(tokenId: string, app: string): string {
  return `${tokenId}/${app}`;
}
