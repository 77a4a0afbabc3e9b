import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootstrapFirstAdmin } from '../src/domain/bootstrap.js';
import { createHasher } from '../src/domain/passwords.js';
import type { Database } from '../src/storage/database.js';
import { MIGRATIONS, migrate } from '../src/storage/migrations.js';
import { type Store, createStore } from '../src/storage/store.js';
import type { NewToken } from '../src/storage/tokens.js';
import { BACKENDS, openTestDatabase } from './harness.js';

/** One contract suite for the store, run against every backend (PGlite, and the server when configured). */
describe.each(BACKENDS)('store contract (%s)', (backend) => {
  let db: Database;
  let drop: () => Promise<void>;
  let store: Store;
  let orgId: string;
  let userId: string;

  beforeAll(async () => {
    ({ db, drop } = await openTestDatabase(backend));
    await migrate(db);
    store = createStore(db);
    orgId = (await store.createOrganization({ id: randomUUID(), name: 'Acme' })).id;
    userId = (await store.createUser({ id: randomUUID(), organizationId: orgId, email: 'Ann@Example.test', passwordHash: 'h', role: 'normal' })).id;
  });
  afterAll(() => drop());

  const newToken = (overrides: Partial<NewToken> = {}): NewToken => ({
    id: randomUUID(),
    organizationId: orgId,
    kind: 'user',
    ownerId: userId,
    createdBy: userId,
    lookupId: randomUUID().replace(/-/g, '').slice(0, 16),
    secretHash: 'hash-1',
    name: 'ci',
    description: '',
    permissions: ['*'],
    enabled: true,
    expiresAt: null,
    defaultAppState: 'allow',
    ...overrides,
  });

  it('applies migrations once: a second run (another replica) applies nothing', async () => {
    expect(await migrate(db)).toEqual([]);
    const rows = await db.query<{ id: number }>('SELECT id FROM schema_migrations ORDER BY id');
    expect(rows.map((r) => r.id)).toEqual(MIGRATIONS.map((m) => m.id));
  });

  it('finds users by email case-insensitively and refuses a duplicate email', async () => {
    const found = await store.findLogin('ann@example.TEST');
    expect(found?.user.id).toBe(userId);
    await expect(store.createUser({ id: randomUUID(), organizationId: orgId, email: 'ANN@example.test', passwordHash: 'h', role: 'admin' })).rejects.toThrow();
  });

  it('stores tokens with every field and finds the credential by lookup id with the owner role', async () => {
    const t = newToken({ permissions: ['a', 'b'], expiresAt: new Date('2030-01-01T00:00:00Z'), description: 'd' });
    const created = await store.insertToken(t);
    expect(created).toMatchObject({ id: t.id, kind: 'user', ownerId: userId, permissions: ['a', 'b'], enabled: true, description: 'd', revokedAt: null, lastUsedAt: null });
    expect(created.expiresAt?.toISOString()).toBe('2030-01-01T00:00:00.000Z');
    const credential = await store.findCredential(t.lookupId, new Date());
    expect(credential).toMatchObject({ secretHash: 'hash-1', previous: false, ownerRole: 'normal' });
    expect(await store.findCredential('nope', new Date())).toBeNull();
  });

  it('never answers a credential from before a change: disable, rotation, role change, deletion', async () => {
    const t = newToken();
    await store.insertToken(t);
    const now = new Date();
    expect((await store.findCredential(t.lookupId, now))?.token.enabled).toBe(true);
    expect((await store.findCredential(t.lookupId, now))?.token.enabled).toBe(true);
    await store.updateToken(t.id, { enabled: false });
    expect((await store.findCredential(t.lookupId, now))?.token.enabled).toBe(false);
    await store.transaction((tx) => tx.updateToken(t.id, { enabled: true }));
    expect((await store.findCredential(t.lookupId, now))?.token.enabled).toBe(true);
    await store.updateUser(userId, { role: 'read_only' });
    expect((await store.findCredential(t.lookupId, now))?.ownerRole).toBe('read_only');
    await store.updateUser(userId, { role: 'normal' });
    await store.rotateToken(t.id, { lookupId: 'ROTATEDLOOKUP001', secretHash: 'hash-9' }, null);
    expect(await store.findCredential(t.lookupId, now)).toBeNull();
    await store.deleteToken(t.id);
    expect(await store.findCredential('ROTATEDLOOKUP001', now)).toBeNull();
  });

  it('updates only the given fields; expiresAt null means never', async () => {
    const t = await store.insertToken(newToken({ expiresAt: new Date(Date.now() + 60_000) }));
    const after = await store.updateToken(t.id, { description: 'new', expiresAt: null });
    expect(after).toMatchObject({ description: 'new', name: 'ci', expiresAt: null, enabled: true });
    const again = await store.updateToken(t.id, { enabled: false });
    expect(again).toMatchObject({ description: 'new', enabled: false, expiresAt: null });
    expect(await store.updateToken(randomUUID(), { enabled: false })).toBeNull();
  });

  it('rotates a key with a grace period for the previous one', async () => {
    const t = await store.insertToken(newToken());
    const oldLookup = (await db.query<{ lookup_id: string }>('SELECT lookup_id FROM api_tokens WHERE id = $1', [t.id]))[0]!.lookup_id;
    const now = new Date();
    await store.rotateToken(t.id, { lookupId: 'NEWLOOKUP0000001', secretHash: 'hash-2' }, new Date(now.getTime() + 60_000));
    expect(await store.findCredential('NEWLOOKUP0000001', now)).toMatchObject({ secretHash: 'hash-2', previous: false });
    expect(await store.findCredential(oldLookup, now)).toMatchObject({ secretHash: 'hash-1', previous: true });
    expect(await store.findCredential(oldLookup, new Date(now.getTime() + 61_000))).toBeNull();
    await store.rotateToken(t.id, { lookupId: 'NEWLOOKUP0000002', secretHash: 'hash-3' }, null);
    expect(await store.findCredential('NEWLOOKUP0000001', now)).toBeNull();
  });

  it('lists by owner and kind; promotion makes a token the organization\'s, acting with its previous owner\'s role', async () => {
    const mine = await store.insertToken(newToken());
    await store.promoteToken(mine.id);
    const own = await store.listTokens({ organizationId: orgId, ownerId: userId });
    expect(own.map((t) => t.id)).not.toContain(mine.id);
    const accounts = await store.listTokens({ organizationId: orgId, kind: 'account' });
    expect(accounts.map((t) => t.id)).toContain(mine.id);
    expect((await store.findCredential((await db.query<{ lookup_id: string }>('SELECT lookup_id FROM api_tokens WHERE id = $1', [mine.id]))[0]!.lookup_id, new Date()))?.ownerRole).toBe('normal'); // promotion keeps the previous owner's role as the ceiling
  });

  it('records usage in one batch, keeping the newest use', async () => {
    const t = await store.insertToken(newToken());
    await store.recordUsage([{ tokenId: t.id, at: new Date('2030-01-02T00:00:00Z'), ip: '10.0.0.2' }]);
    await store.recordUsage([{ tokenId: t.id, at: new Date('2030-01-01T00:00:00Z'), ip: '10.0.0.1' }]);
    const after = await store.getToken(t.id);
    expect(after?.lastUsedAt?.toISOString()).toBe('2030-01-02T00:00:00.000Z');
    expect(after?.lastUsedIp).toBe('10.0.0.2');
  });

  it('keeps revocations as the record Redis is rebuilt from, and answers per session', async () => {
    const now = Date.now();
    await store.insertRevocations([
      { kind: 'token', id: 'tid-1', revokedAt: now, until: now + 3_600_000 },
      { kind: 'session', id: 'jti-1', revokedAt: now, until: now + 3_600_000 },
      { kind: 'token', id: 'old', revokedAt: now - 10_000, until: now - 1 },
    ]);
    const active = await store.listActiveRevocations(new Date(now));
    expect(active.map((e) => e.id).sort()).toEqual(['jti-1', 'tid-1']);
    expect(active.find((e) => e.id === 'tid-1')).toEqual({ kind: 'token', id: 'tid-1', revokedAt: now, until: now + 3_600_000 });
    const iatBefore = now - 5000;
    expect(await store.isSessionRevoked({ jti: 'x', tid: 'tid-1', sub: 'u', iatMs: iatBefore })).toBe(true);
    expect(await store.isSessionRevoked({ jti: 'x', tid: 'tid-1', sub: 'u', iatMs: now + 5000 })).toBe(false);
    expect(await store.isSessionRevoked({ jti: 'jti-1', sub: 'u', iatMs: now + 5000 })).toBe(true);
    expect(await store.pruneRevocations(new Date(now))).toBe(1);
  });

  it('pages the audit log newest first', async () => {
    for (let i = 0; i < 5; i++) await store.insertAudit({ organizationId: orgId, actorId: userId, action: `a.${i}`, detail: { i } });
    const first = await store.listAudit(orgId, { limit: 3 });
    expect(first.map((e) => e.action)).toEqual(['a.4', 'a.3', 'a.2']);
    const next = await store.listAudit(orgId, { limit: 3, before: first.at(-1)!.id });
    expect(next.map((e) => e.action).slice(0, 2)).toEqual(['a.1', 'a.0']);
    expect(next[0]!.detail).toEqual({ i: 1 });
  });

  it("updates an organization's policy: lifetime set and cleared, default application state", async () => {
    const set = await store.updateOrganization(orgId, { maxTokenLifetimeSec: 86_400, defaultAppState: 'pending' });
    expect(set).toMatchObject({ id: orgId, name: 'Acme', maxTokenLifetimeSec: 86_400, defaultAppState: 'pending' });
    const untouched = await store.updateOrganization(orgId, { name: 'Acme Corp' });
    expect(untouched).toMatchObject({ name: 'Acme Corp', maxTokenLifetimeSec: 86_400, defaultAppState: 'pending' });
    expect(await store.updateOrganization(orgId, { maxTokenLifetimeSec: null, defaultAppState: 'allow', name: 'Acme' })).toMatchObject({ maxTokenLifetimeSec: null, defaultAppState: 'allow' });
    expect(await store.updateOrganization(randomUUID(), { name: 'x' })).toBeNull();
  });

  it('counts the admins of one organization, under the organization lock', async () => {
    const other = (await store.createOrganization({ id: randomUUID(), name: 'Other' })).id;
    await store.createUser({ id: randomUUID(), organizationId: other, email: `a-${randomUUID()}@x.test`, passwordHash: 'h', role: 'admin' });
    await store.createUser({ id: randomUUID(), organizationId: other, email: `b-${randomUUID()}@x.test`, passwordHash: 'h', role: 'normal' });
    const counted = await store.transaction(async (tx) => {
      await tx.lockOrganization(other);
      return tx.countAdmins(other);
    });
    expect(counted).toBe(1);
    expect(await store.countAdmins(randomUUID())).toBe(0);
  });

  it('rolls a transaction back as a whole', async () => {
    const t = newToken();
    await expect(
      store.transaction(async (tx) => {
        await tx.insertToken(t);
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await store.getToken(t.id)).toBeNull();
  });
});

describe.each(BACKENDS)('first start (%s)', (backend) => {
  it('creates one organization and admin, with a generated password when none is configured, only once', async () => {
    const { db, drop } = await openTestDatabase(backend);
    try {
      await migrate(db);
      const store = createStore(db);
      const hasher = createHasher(4);
      const first = await bootstrapFirstAdmin(store, hasher, { email: 'root@example.test', organizationName: 'Acme' });
      expect(first?.generatedPassword).toMatch(/^[0-9A-Za-z]{24}$/);
      const login = await store.findLogin('root@example.test');
      expect(login?.user.role).toBe('admin');
      expect(await hasher.compare(first!.generatedPassword!, login!.passwordHash)).toBe(true);
      expect(await bootstrapFirstAdmin(store, hasher, { email: 'other@example.test', organizationName: 'X' })).toBeNull();
      expect(await store.countUsers()).toBe(1);
      expect(await store.countOrganizations()).toBe(1);
    } finally {
      await drop();
    }
  });
});
