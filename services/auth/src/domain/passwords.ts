import bcrypt from 'bcrypt';

/**
 * bcrypt for PAT secrets and passwords. A fixed dummy hash keeps a login for an unknown email
 * as slow as one for a known email, so timing does not reveal which emails exist.
 */
export interface Hasher {
  hash(secret: string): Promise<string>;
  compare(secret: string, hash: string): Promise<boolean>;
  /** Spends the same time as a real compare, for unknown users. */
  compareDummy(secret: string): Promise<false>;
}

export const DEFAULT_BCRYPT_COST = 10;
export const MIN_PASSWORD_LENGTH = 12;
// bcrypt reads only the first 72 bytes; longer secrets would silently collide.
export const MAX_SECRET_BYTES = 72;

export function createHasher(cost: number = DEFAULT_BCRYPT_COST): Hasher {
  const dummy = bcrypt.hashSync('portcullis-dummy-secret', cost);
  return {
    hash: (secret) => bcrypt.hash(secret, cost),
    compare: (secret, hash) => bcrypt.compare(secret, hash),
    compareDummy: async (secret) => {
      await bcrypt.compare(secret, dummy);
      return false;
    },
  };
}
