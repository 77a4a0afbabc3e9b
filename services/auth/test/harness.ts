import { randomBytes, randomUUID } from 'node:crypto';
import type { SessionClaims } from '@portcullis/jwt';
import { MemoryRevocationBus, RevocationSet } from '@portcullis/revocation';
import pg from 'pg';
import pino from 'pino';
import request from 'supertest';
import { type AuthApp, createApp } from '../src/app.js';
import { loadAuthConfig } from '../src/config.js';
import { bootstrapFirstAdmin } from '../src/domain/bootstrap.js';
import type { Clock } from '../src/domain/clock.js';
import type { Role } from '../src/domain/types.js';
import type { Database } from '../src/storage/database.js';
import { migrate } from '../src/storage/migrations.js';
import { openPostgres } from '../src/storage/pg.js';
import { openPglite } from '../src/storage/pglite.js';
import { type Store, createStore } from '../src/storage/store.js';
import { type AuthServices, createAuthServices } from '../src/wire.js';

export type Backend = 'pglite' | 'postgres';

/** PGlite always; the PostgreSQL server too when DATABASE_URL is set (CI sets it). */
export const BACKENDS: Backend[] = process.env.DATABASE_URL ? ['pglite', 'postgres'] : ['pglite'];

/** A fresh, empty database: in-memory PGlite, or a new database on the server dropped afterwards. */
export async function openTestDatabase(backend: Backend): Promise<{ db: Database; drop: () => Promise<void> }> {
  if (backend === 'pglite') {
    const db = await openPglite();
    return { db, drop: () => db.close() };
  }
  const base = new URL(process.env.DATABASE_URL!);
  const name = `portcullis_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base.toString() });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(base);
  url.pathname = `/${name}`;
  const db = openPostgres(url.toString(), 4);
  return {
    db,
    drop: async () => {
      await db.close();
      const c = new pg.Client({ connectionString: base.toString() });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/** A clock tests move by hand; starts at the real time so certificates and bcrypt are unaffected. */
export function manualClock(start = Date.now()): Clock & { advance(ms: number): void; set(ms: number): void } {
  let now = start;
  const clock = (() => now) as Clock & { advance(ms: number): void; set(ms: number): void };
  clock.advance = (ms) => {
    now += ms;
  };
  clock.set = (ms) => {
    now = ms;
  };
  return clock;
}

export const ADMIN = { email: 'admin@example.test', password: 'correct horse battery staple' };

export interface TestAuth {
  app: AuthApp;
  services: AuthServices;
  store: Store;
  bus: MemoryRevocationBus;
  clock: ReturnType<typeof manualClock>;
  logs: string[];
  close(): Promise<void>;
}

/** The real auth app on a real (test) database, bcrypt at cost 4, a hand-moved clock, logs captured. */
export async function createTestAuth(backend: Backend, env: Record<string, string> = {}): Promise<TestAuth> {
  const { db, drop } = await openTestDatabase(backend);
  await migrate(db);
  const store = createStore(db);
  const config = loadAuthConfig({ BCRYPT_COST: '4', JWT_ISSUER: 'http://auth.test', ...env });
  const bus = new MemoryRevocationBus();
  const clock = manualClock();
  const logs: string[] = [];
  const log = pino({ level: 'debug', redact: { paths: [], censor: '' } }, { write: (line: string) => void logs.push(line) });
  const services = await createAuthServices({ config, store, writer: bus, log, clock });
  await bootstrapFirstAdmin(store, services.hasher, { email: ADMIN.email, password: ADMIN.password, organizationName: 'Acme' });
  return {
    app: createApp(services),
    services,
    store,
    bus,
    clock,
    logs,
    close: async () => {
      await services.usage.stop();
      await drop();
    },
  };
}

/** A session token for email/password, through the real token endpoint. */
export async function login(app: AuthApp, email = ADMIN.email, password = ADMIN.password): Promise<string> {
  const res = await request(app).post('/auth/v1/token').type('form').send({ grant_type: 'password', username: email, password });
  if (res.status !== 200) throw new Error(`login failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.access_token as string;
}

/** Creates a PAT through the API and answers its id and key. */
export async function createPat(app: AuthApp, session: string, body: Record<string, unknown> = {}): Promise<{ id: string; key: string; body: Record<string, unknown> }> {
  const res = await request(app).post('/api/v1/api_tokens').set('Authorization', `Bearer ${session}`).send({ name: 'test', ...body });
  if (res.status !== 201) throw new Error(`create failed: ${res.status} ${JSON.stringify(res.body)}`);
  return { id: res.body.id as string, key: res.body.key as string, body: res.body };
}

export async function exchange(app: AuthApp, pat: string) {
  return request(app).post('/auth/v1/token').type('form').set('Accept', 'application/json').send({ pat });
}

/** Headers of a management API call made with `session`. */
export function bearer(session: string): { Authorization: string } {
  return { Authorization: `Bearer ${session}` };
}

/** The claims of a session JWT, read without verifying (the tests verify through the API). */
export function claimsOf(jwt: string): SessionClaims {
  return JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()) as SessionClaims;
}

export interface TestUser {
  id: string;
  email: string;
  password: string;
  role: Role;
  /** A password-login session. */
  session: string;
}

let userCounter = 0;

/** Creates a user through POST /api/v1/users as `adminSession`, and logs them in. */
export async function createUser(app: AuthApp, adminSession: string, role: Role = 'normal', name = 'user'): Promise<TestUser> {
  const email = `${name}-${++userCounter}-${randomBytes(3).toString('hex')}@example.test`;
  const password = `pw-${randomBytes(12).toString('hex')}`;
  const res = await request(app).post('/api/v1/users').set(bearer(adminSession)).send({ email, password, role });
  if (res.status !== 201) throw new Error(`user creation failed: ${res.status} ${JSON.stringify(res.body)}`);
  return { id: res.body.id as string, email, password, role, session: await login(app, email, password) };
}

/** A second organization with its own admin, straight in the store (there is no API to create one). */
export async function createOrganization(t: TestAuth, name = 'Other'): Promise<{ id: string; admin: TestUser }> {
  const org = await t.store.createOrganization({ id: randomUUID(), name });
  const email = `admin-${randomBytes(4).toString('hex')}@${name.toLowerCase()}.test`;
  const password = `pw-${randomBytes(12).toString('hex')}`;
  const user = await t.store.createUser({ id: randomUUID(), organizationId: org.id, email, passwordHash: await t.services.hasher.hash(password), role: 'admin' });
  return { id: org.id, admin: { id: user.id, email, password, role: 'admin', session: await login(t.app, email, password) } };
}

/** A gateway's view of revocations: a RevocationSet fed by the test's in-process bus. Stop it after use. */
export async function revocationView(t: TestAuth): Promise<RevocationSet> {
  const set = new RevocationSet({ source: t.bus.source(), stalenessMs: 60_000, now: t.clock });
  await set.start();
  return set;
}

/** Reads a JSON array answer (supertest types bodies as `any`) as records of a known shape. */
export function rows<T = { id: string }>(body: unknown): T[] {
  return body as T[];
}

/** The ids of a JSON array answer. */
export function idsOf(body: unknown): string[] {
  return rows(body).map((row) => row.id);
}

/** The field paths named by a validation_failed answer. */
export function detailPaths(body: unknown): string[] {
  return ((body as { details?: { path: string }[] }).details ?? []).map((d) => d.path);
}
