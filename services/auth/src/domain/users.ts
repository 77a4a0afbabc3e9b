import { randomUUID } from 'node:crypto';
import type { Store, StoreQueries } from '../storage/store.js';
import type { Hasher } from './passwords.js';
import type { Principal } from './principal.js';
import { type Result, fail, ok } from './result.js';
import type { RevocationEntry } from '@portcullis/revocation';
import type { Revoker } from './revoker.js';
import type { AppState, Organization, Role, User } from './types.js';

const ROLE_RANK: Record<Role, number> = { read_only: 0, normal: 1, admin: 2 };
const LAST_ADMIN = Symbol('last admin');
const LAST_ADMIN_MESSAGE = 'The organization must keep at least one admin';

/** The organization's policy as admins edit it; absent fields stay as they are. */
export interface OrganizationPatch {
  name?: string;
  /** Longest PAT lifetime in seconds; null removes the limit. */
  maxTokenLifetimeSec?: number | null;
  defaultAppState?: AppState;
}

export interface UserServiceDeps {
  store: Store;
  hasher: Hasher;
  revoker: Revoker;
  /** Epoch milliseconds. */
  clock: () => number;
  audit: (tx: StoreQueries, actor: Principal, action: string, target: { type: string; id: string }, detail?: Record<string, unknown>) => Promise<void>;
}

/**
 * Users of one organization, managed by its admins. Lowering a role or deleting a user ends their
 * sessions at once (a revocation of their subject id), so the new rights apply on the next request.
 */
export class UserService {
  constructor(private readonly deps: UserServiceDeps) {}

  async organization(actor: Principal): Promise<Organization> {
    const org = await this.deps.store.getOrganization(actor.organizationId);
    if (!org) throw new Error(`organization ${actor.organizationId} missing`);
    return org;
  }

  /**
   * A maximum lifetime applies to existing tokens too: any that would outlive it, counted from now, expire
   * when it ends, and their sessions are revoked (a session minted earlier may end later than its token
   * now does), exactly as when one token's expiry is shortened. Tokens created or edited later must fit it.
   */
  async updateOrganization(actor: Principal, patch: OrganizationPatch): Promise<Result<Organization>> {
    const now = this.deps.clock();
    let entries: RevocationEntry[] = [];
    const updated = await this.deps.store.transaction(async (tx) => {
      const after = await tx.updateOrganization(actor.organizationId, patch);
      if (!after) return null;
      const max = patch.maxTokenLifetimeSec;
      const capped = max !== undefined && max !== null ? await tx.capTokenExpiry(after.id, new Date(now + max * 1000)) : [];
      entries = capped.map((id) => this.deps.revoker.tokenEntry(id));
      await this.deps.revoker.record(tx, entries);
      await this.deps.audit(tx, actor, 'organization.updated', { type: 'organization', id: after.id }, {
        fields: Object.keys(patch),
        ...(patch.maxTokenLifetimeSec !== undefined ? { maxTokenLifetimeSec: patch.maxTokenLifetimeSec } : {}),
        ...(patch.defaultAppState !== undefined ? { defaultAppState: patch.defaultAppState } : {}),
        ...(capped.length > 0 ? { cappedTokens: capped } : {}),
      });
      return after;
    });
    if (!updated) return fail('not_found', 'No such organization');
    await this.deps.revoker.publish(entries);
    return ok(updated);
  }

  async list(actor: Principal): Promise<User[]> {
    return this.deps.store.listUsers(actor.organizationId);
  }

  async find(actor: Principal, id: string): Promise<Result<User>> {
    const user = await this.deps.store.getUser(id);
    if (!user || user.organizationId !== actor.organizationId) return fail('not_found', 'No such user');
    return ok(user);
  }

  async create(actor: Principal, input: { email: string; password: string; role: Role }): Promise<Result<User>> {
    if (await this.deps.store.findLogin(input.email)) return fail('conflict', 'A user with this email already exists');
    const passwordHash = await this.deps.hasher.hash(input.password);
    try {
      const user = await this.deps.store.transaction(async (tx) => {
        const created = await tx.createUser({ id: randomUUID(), organizationId: actor.organizationId, email: input.email, passwordHash, role: input.role });
        await this.deps.audit(tx, actor, 'user.created', { type: 'user', id: created.id }, { email: created.email, role: created.role });
        return created;
      });
      return ok(user);
    } catch (error) {
      // Two concurrent creations of one email: the unique index decides.
      if ((error as { code?: string }).code === '23505') return fail('conflict', 'A user with this email already exists');
      throw error;
    }
  }

  /**
   * Whether user `id` is the organization's only admin, decided inside the transaction that would demote
   * or delete them, under a lock on the organization: two admins demoting each other at once must not
   * both pass a check made before either wrote.
   */
  private async isLastAdmin(tx: StoreQueries, organizationId: string, id: string): Promise<boolean> {
    await tx.lockOrganization(organizationId);
    const user = await tx.getUser(id);
    if (!user || user.role !== 'admin') return false;
    return (await tx.countAdmins(organizationId)) <= 1;
  }

  async update(actor: Principal, id: string, input: { email?: string; password?: string; role?: Role }): Promise<Result<User>> {
    const found = await this.find(actor, id);
    if (!found.ok) return found;
    const before = found.value;
    if (input.email && input.email.toLowerCase() !== before.email.toLowerCase() && (await this.deps.store.findLogin(input.email))) {
      return fail('conflict', 'A user with this email already exists');
    }
    const passwordHash = input.password ? await this.deps.hasher.hash(input.password) : undefined;
    const lowered = input.role !== undefined && ROLE_RANK[input.role] < ROLE_RANK[before.role];
    // A new password ends the sessions opened with the old one too.
    const entries = lowered || passwordHash ? [this.deps.revoker.tokenEntry(id)] : [];
    const updated = await this.deps.store.transaction(async (tx) => {
      if (input.role !== undefined && input.role !== 'admin' && (await this.isLastAdmin(tx, actor.organizationId, id))) return LAST_ADMIN;
      const after = await tx.updateUser(id, { ...(input.email ? { email: input.email } : {}), ...(passwordHash ? { passwordHash } : {}), ...(input.role ? { role: input.role } : {}) });
      await this.deps.revoker.record(tx, entries);
      await this.deps.audit(tx, actor, 'user.changed', { type: 'user', id }, {
        fields: Object.keys(input),
        ...(input.role ? { role: { from: before.role, to: input.role } } : {}),
      });
      return after;
    });
    if (updated === LAST_ADMIN) return fail('conflict', LAST_ADMIN_MESSAGE);
    if (!updated) return fail('not_found', 'No such user');
    await this.deps.revoker.publish(entries);
    return ok(updated);
  }

  /** Deletes the user and, with them, their user tokens; account tokens they created stay with the organization. */
  async delete(actor: Principal, id: string): Promise<Result<User>> {
    const found = await this.find(actor, id);
    if (!found.ok) return found;
    const entries = [this.deps.revoker.tokenEntry(id)];
    const deleted = await this.deps.store.transaction(async (tx) => {
      if (await this.isLastAdmin(tx, actor.organizationId, id)) return LAST_ADMIN;
      const gone = await tx.deleteUser(id);
      if (!gone) return false;
      await this.deps.revoker.record(tx, entries);
      await this.deps.audit(tx, actor, 'user.deleted', { type: 'user', id }, { email: found.value.email });
      return true;
    });
    if (deleted === LAST_ADMIN) return fail('conflict', LAST_ADMIN_MESSAGE);
    if (!deleted) return fail('not_found', 'No such user');
    await this.deps.revoker.publish(entries);
    return ok(found.value);
  }
}
