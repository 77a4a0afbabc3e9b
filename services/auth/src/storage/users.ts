import type { Role, User } from '../domain/types.js';
import type { Queryable } from './database.js';
import { type UserRow, toUser } from './rows.js';

// Any constant works; every replica must use the same one.
const BOOTSTRAP_LOCK_KEY = 7_301_932;

export function userQueries(db: Queryable) {
  return {
    async createUser(user: { id: string; organizationId: string; email: string; passwordHash: string; role: Role }): Promise<User> {
      const [row] = await db.query<UserRow>(
        `INSERT INTO users (id, organization_id, email, password_hash, role) VALUES ($1, $2, $3, $4, $5) RETURNING *`,
        [user.id, user.organizationId, user.email, user.passwordHash, user.role],
      );
      return toUser(row!);
    },

    async getUser(id: string): Promise<User | null> {
      const [row] = await db.query<UserRow>('SELECT * FROM users WHERE id = $1', [id]);
      return row ? toUser(row) : null;
    },

    /** The user and their password hash, for a password login. Emails compare case-insensitively. */
    async findLogin(email: string): Promise<{ user: User; passwordHash: string } | null> {
      const [row] = await db.query<UserRow>('SELECT * FROM users WHERE lower(email) = lower($1)', [email]);
      return row ? { user: toUser(row), passwordHash: row.password_hash } : null;
    },

    async listUsers(organizationId: string): Promise<User[]> {
      const rows = await db.query<UserRow>('SELECT * FROM users WHERE organization_id = $1 ORDER BY created_at, id', [organizationId]);
      return rows.map(toUser);
    },

    async countAdmins(organizationId: string): Promise<number> {
      const [row] = await db.query<{ n: number }>(
        "SELECT count(*)::integer AS n FROM users WHERE organization_id = $1 AND role = 'admin'",
        [organizationId],
      );
      return row?.n ?? 0;
    },

    async updateUser(id: string, patch: { email?: string; passwordHash?: string; role?: Role }): Promise<User | null> {
      const [row] = await db.query<UserRow>(
        `UPDATE users SET email = COALESCE($2, email), password_hash = COALESCE($3, password_hash),
           role = COALESCE($4, role), updated_at = now() WHERE id = $1 RETURNING *`,
        [id, patch.email ?? null, patch.passwordHash ?? null, patch.role ?? null],
      );
      return row ? toUser(row) : null;
    },

    async deleteUser(id: string): Promise<boolean> {
      const rows = await db.query('DELETE FROM users WHERE id = $1 RETURNING id', [id]);
      return rows.length > 0;
    },

    async lockBootstrap(): Promise<void> {
      await db.query('SELECT pg_advisory_xact_lock($1)', [BOOTSTRAP_LOCK_KEY]);
    },

    async countUsers(): Promise<number> {
      const [row] = await db.query<{ n: number }>('SELECT count(*)::integer AS n FROM users');
      return row?.n ?? 0;
    },
  };
}
