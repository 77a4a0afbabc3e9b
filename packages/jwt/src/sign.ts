import jwt from 'jsonwebtoken';
import { SESSION_TOKEN_ALG, SESSION_TOKEN_TYPE, type SessionClaims } from './claims.js';
import type { SigningKey } from './keys.js';

export function signSessionToken(claims: SessionClaims, key: SigningKey): string {
  return jwt.sign(claims, key.privateKey, {
    algorithm: SESSION_TOKEN_ALG,
    keyid: key.kid,
    header: { alg: SESSION_TOKEN_ALG, typ: SESSION_TOKEN_TYPE, kid: key.kid },
  });
}
