import { randomUUID } from 'node:crypto';
import { type SessionClaims, signSessionToken } from '@portcullis/jwt';
import type { Clock } from './clock.js';
import type { KeyRing } from './keyring.js';
import type { Role } from './types.js';

export interface SessionSubject {
  sub: string;
  org: string;
  tid?: string;
  scope: readonly string[];
  /** The owner's role now: the gateway limits read_only sessions to safe methods. */
  role: Role;
  app?: string;
  /** The PAT's own expiry: a session never outlives it. */
  notAfter?: Date | null;
}

export interface MintedSession {
  accessToken: string;
  expiresIn: number;
  claims: SessionClaims;
}

export interface SessionMinter {
  mint(subject: SessionSubject): MintedSession;
  /** The latest `exp` a session minted now could carry, in epoch ms: what a revocation must cover. */
  latestExpiry(): number;
}

export function createSessionMinter(options: {
  keyRing: KeyRing;
  issuer: string;
  audience: string;
  ttlMs: number;
  clock: Clock;
}): SessionMinter {
  const { keyRing, issuer, audience, ttlMs, clock } = options;
  return {
    mint(subject) {
      const now = clock();
      // Milliseconds in `iat` let a revocation tell apart sessions minted just before and just after it.
      const iat = Math.round(now) / 1000;
      const issuedSec = Math.floor(iat);
      let exp = Math.floor((now + ttlMs) / 1000);
      if (subject.notAfter) exp = Math.min(exp, Math.floor(subject.notAfter.getTime() / 1000));
      const claims: SessionClaims = {
        iss: issuer,
        sub: subject.sub,
        aud: audience,
        exp,
        iat,
        nbf: issuedSec,
        jti: randomUUID(),
        org: subject.org,
        ...(subject.tid ? { tid: subject.tid } : {}),
        scope: subject.scope.join(' '),
        role: subject.role,
        ...(subject.app ? { app: subject.app } : {}),
        client_id: subject.app ?? 'portcullis',
      };
      return { accessToken: signSessionToken(claims, keyRing.current()), expiresIn: Math.max(exp - issuedSec, 0), claims };
    },
    latestExpiry: () => clock() + ttlMs + 1000,
  };
}
