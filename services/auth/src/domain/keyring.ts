import { exportSigningKey, generateSigningKey, importSigningKey, type Jwks, type SigningKey, toJwks } from '@portcullis/jwt';
import type { KeyObject } from 'node:crypto';
import type { Store } from '../storage/store.js';

/** The signing keys, parsed once into KeyObjects. The newest signs; all verify and are published. */
export interface KeyRing {
  current(): SigningKey;
  keyFor(kid: string): KeyObject | undefined;
  jwks(): Jwks;
}

/** Loads the keys from the store, creating the first one on an empty store (shared by every replica). */
export async function loadKeyRing(store: Store, now: () => Date = () => new Date()): Promise<KeyRing> {
  let stored = await store.listSigningKeys();
  if (stored.length === 0) {
    await store.insertSigningKey(exportSigningKey(generateSigningKey(now())));
    // Another replica may have raced us: everyone then signs with whichever is newest.
    stored = await store.listSigningKeys();
  }
  const keys = stored.map(importSigningKey);
  const byKid = new Map(keys.map((k) => [k.kid, k.publicKey]));
  const jwks = toJwks(keys);
  return {
    current: () => keys[0]!,
    keyFor: (kid) => byKid.get(kid),
    jwks: () => jwks,
  };
}
