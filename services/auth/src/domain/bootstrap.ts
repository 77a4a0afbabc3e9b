import { randomUUID } from 'node:crypto';
import { randomBase62 } from '@portcullis/token';
import type { Store } from '../storage/store.js';
import type { Hasher } from './passwords.js';

export const GENERATED_PASSWORD_LENGTH = 24;

export interface FirstAdmin {
  email: string;
  /** Set only when the password was generated here: print it once, never log it again. */
  generatedPassword?: string;
}

/**
 * On an empty store, creates the first organization and its admin. Does nothing when any user exists,
 * so restarting (or a second replica) never creates a second admin.
 */
export async function bootstrapFirstAdmin(
  store: Store,
  hasher: Hasher,
  options: { email: string; password?: string; organizationName: string },
): Promise<FirstAdmin | null> {
  if ((await store.countUsers()) > 0) return null;
  const generatedPassword = options.password ? undefined : randomBase62(GENERATED_PASSWORD_LENGTH);
  const passwordHash = await hasher.hash(options.password ?? generatedPassword!);
  return store.transaction(async (tx) => {
    // Serialise concurrent first starts of several replicas on the same empty database.
    await tx.lockBootstrap();
    if ((await tx.countUsers()) > 0) return null;
    const org = await tx.createOrganization({ id: randomUUID(), name: options.organizationName });
    const user = await tx.createUser({ id: randomUUID(), organizationId: org.id, email: options.email, passwordHash, role: 'admin' });
    await tx.insertAudit({ organizationId: org.id, actorId: null, action: 'user.created', targetType: 'user', targetId: user.id, detail: { role: 'admin', bootstrap: true } });
    return generatedPassword ? { email: user.email, generatedPassword } : { email: user.email };
  });
}
