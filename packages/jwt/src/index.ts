export { MAX_TOKEN_LENGTH, SESSION_TOKEN_ALG, SESSION_TOKEN_TYPE, issuedAtMs, scopeList } from './claims.js';
export type { SessionClaims } from './claims.js';
export {
  exportSigningKey,
  generateSigningKey,
  importSigningKey,
  parseJwks,
  toJwks,
  toPublicJwk,
} from './keys.js';
export type { Jwks, PublicJwk, SigningKey, StoredSigningKey } from './keys.js';
export { signSessionToken } from './sign.js';
export { DEFAULT_CLOCK_TOLERANCE_SEC, createVerifier } from './verify.js';
export type { VerifierOptions, VerifyFailure, VerifyResult } from './verify.js';
