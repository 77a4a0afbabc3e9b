import type { Database } from './database.js';

/**
 * Schema changes, applied in order at start. Append only: a released migration never changes.
 * Times are timestamptz; lifetimes are whole seconds (integer) so both drivers return plain numbers.
 */
export const MIGRATIONS: readonly { id: number; name: string; sql: string }[] = [
  {
    id: 1,
    name: 'initial schema',
    sql: `
      CREATE TABLE organizations (
        id uuid PRIMARY KEY,
        name text NOT NULL,
        max_token_lifetime_sec integer CHECK (max_token_lifetime_sec > 0),
        default_app_state text NOT NULL DEFAULT 'allow' CHECK (default_app_state IN ('allow', 'pending', 'deny')),
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE users (
        id uuid PRIMARY KEY,
        organization_id uuid NOT NULL REFERENCES organizations(id),
        email text NOT NULL,
        password_hash text NOT NULL,
        role text NOT NULL CHECK (role IN ('admin', 'normal', 'read_only')),
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE UNIQUE INDEX users_email_key ON users (lower(email));
      CREATE TABLE api_tokens (
        id uuid PRIMARY KEY,
        organization_id uuid NOT NULL REFERENCES organizations(id),
        kind text NOT NULL CHECK (kind IN ('user', 'account')),
        owner_id uuid REFERENCES users(id) ON DELETE CASCADE,
        created_by uuid,
        lookup_id text NOT NULL UNIQUE,
        secret_hash text NOT NULL,
        previous_lookup_id text UNIQUE,
        previous_secret_hash text,
        previous_valid_until timestamptz,
        name text NOT NULL,
        description text NOT NULL DEFAULT '',
        permissions text[] NOT NULL,
        enabled boolean NOT NULL DEFAULT true,
        expires_at timestamptz,
        default_app_state text NOT NULL DEFAULT 'allow' CHECK (default_app_state IN ('allow', 'pending', 'deny')),
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        last_used_at timestamptz,
        last_used_ip text,
        revoked_at timestamptz
      );
      CREATE INDEX api_tokens_owner_idx ON api_tokens (owner_id);
      CREATE INDEX api_tokens_org_idx ON api_tokens (organization_id);
      CREATE TABLE token_applications (
        token_id uuid NOT NULL REFERENCES api_tokens(id) ON DELETE CASCADE,
        name text NOT NULL,
        state text NOT NULL CHECK (state IN ('allow', 'pending', 'deny')),
        first_seen_at timestamptz NOT NULL DEFAULT now(),
        decided_at timestamptz,
        decided_by uuid,
        PRIMARY KEY (token_id, name)
      );
      CREATE TABLE revocations (
        kind text NOT NULL CHECK (kind IN ('token', 'session')),
        id text NOT NULL,
        revoked_at timestamptz NOT NULL,
        until timestamptz NOT NULL,
        PRIMARY KEY (kind, id, revoked_at)
      );
      CREATE INDEX revocations_until_idx ON revocations (until);
      CREATE TABLE signing_keys (
        kid text PRIMARY KEY,
        private_key_pem text NOT NULL,
        created_at timestamptz NOT NULL,
        retired_at timestamptz
      );
      CREATE TABLE audit_events (
        id bigserial PRIMARY KEY,
        organization_id uuid,
        at timestamptz NOT NULL DEFAULT now(),
        actor_id text,
        action text NOT NULL,
        target_type text,
        target_id text,
        ip text,
        detail jsonb NOT NULL DEFAULT '{}'
      );
      CREATE INDEX audit_events_org_idx ON audit_events (organization_id, id DESC);
    `,
  },
  {
    id: 2,
    name: 'account tokens act with a role ceiling',
    sql: `
      ALTER TABLE api_tokens ADD COLUMN acting_role text CHECK (acting_role IN ('admin', 'normal', 'read_only'));
      UPDATE api_tokens SET acting_role = 'admin' WHERE kind = 'account' AND acting_role IS NULL
    `,
  },
];

// Any constant works; it only has to be the same for every replica of auth.
const MIGRATION_LOCK_KEY = 7_301_931;

/**
 * Applies pending migrations, each in its own transaction. Safe to run from several replicas at once:
 * a transaction-scoped advisory lock serialises them, and applied ids are skipped.
 */
export async function migrate(db: Database): Promise<number[]> {
  await db.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
    id integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
  const applied: number[] = [];
  for (const migration of MIGRATIONS) {
    const ran = await db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
      const done = await tx.query('SELECT 1 FROM schema_migrations WHERE id = $1', [migration.id]);
      if (done.length > 0) return false;
      for (const statement of splitStatements(migration.sql)) await tx.query(statement);
      await tx.query('INSERT INTO schema_migrations (id, name) VALUES ($1, $2)', [migration.id, migration.name]);
      return true;
    });
    if (ran) applied.push(migration.id);
  }
  return applied;
}

// Prepared statements take one command each; the migrations hold no semicolons inside literals.
function splitStatements(sql: string): string[] {
  return sql
    .split(';')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}
