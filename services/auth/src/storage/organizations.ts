import type { AppState, Organization } from '../domain/types.js';
import type { Queryable } from './database.js';
import { type OrganizationRow, toOrganization } from './rows.js';

export function organizationQueries(db: Queryable) {
  return {
    async createOrganization(org: { id: string; name: string; defaultAppState?: AppState }): Promise<Organization> {
      const [row] = await db.query<OrganizationRow>(
        `INSERT INTO organizations (id, name, default_app_state) VALUES ($1, $2, $3) RETURNING *`,
        [org.id, org.name, org.defaultAppState ?? 'allow'],
      );
      return toOrganization(row!);
    },

    async getOrganization(id: string): Promise<Organization | null> {
      const [row] = await db.query<OrganizationRow>('SELECT * FROM organizations WHERE id = $1', [id]);
      return row ? toOrganization(row) : null;
    },

    async updateOrganization(
      id: string,
      patch: { name?: string; maxTokenLifetimeSec?: number | null; defaultAppState?: AppState },
    ): Promise<Organization | null> {
      const [row] = await db.query<OrganizationRow>(
        `UPDATE organizations SET
           name = COALESCE($2, name),
           max_token_lifetime_sec = CASE WHEN $3::boolean THEN $4::integer ELSE max_token_lifetime_sec END,
           default_app_state = COALESCE($5, default_app_state),
           updated_at = now()
         WHERE id = $1 RETURNING *`,
        [id, patch.name ?? null, patch.maxTokenLifetimeSec !== undefined, patch.maxTokenLifetimeSec ?? null, patch.defaultAppState ?? null],
      );
      return row ? toOrganization(row) : null;
    },

    /** Holds the organization's row until the transaction ends: serialises changes to who its admins are. */
    async lockOrganization(id: string): Promise<void> {
      await db.query('SELECT id FROM organizations WHERE id = $1 FOR UPDATE', [id]);
    },

    async countOrganizations(): Promise<number> {
      const [row] = await db.query<{ n: number }>('SELECT count(*)::integer AS n FROM organizations');
      return row?.n ?? 0;
    },
  };
}
