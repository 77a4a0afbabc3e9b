import { describe, expect, it } from 'vitest';
import { ERROR_STATUS, HttpError, errorBody, oauthErrorBody, statusOf } from '../src/index.js';

describe('error catalogue', () => {
  it('gives every code a 4xx or 5xx status', () => {
    for (const [code, status] of Object.entries(ERROR_STATUS)) {
      expect(status, code).toBeGreaterThanOrEqual(400);
      expect(status, code).toBeLessThan(600);
    }
    expect(statusOf('invalid_token')).toBe(401);
    expect(new HttpError('insufficient_scope', 'x').status).toBe(403);
  });

  it('never carries detail in a 5xx body', () => {
    expect(errorBody('internal_error', 'db password is hunter2', 'r1')).toEqual({ code: 'internal_error', message: 'Internal server error', requestId: 'r1' });
    expect(errorBody('bad_gateway', 'connect ECONNREFUSED 10.0.0.3:5432', 'r2').message).not.toContain('10.0.0.3');
    expect(errorBody('validation_failed', 'bad', 'r3', [{ path: 'ttl', message: 'x' }])).toEqual({
      code: 'validation_failed',
      message: 'bad',
      requestId: 'r3',
      details: [{ path: 'ttl', message: 'x' }],
    });
  });

  it('uses RFC 6749 names on OAuth endpoints, generic text for server failures', () => {
    expect(oauthErrorBody('invalid_grant', 'The token is invalid', 'r')).toEqual({ error: 'invalid_grant', error_description: 'The token is invalid', requestId: 'r' });
    expect(oauthErrorBody('internal_error', 'stack trace', 'r')).toEqual({ error: 'server_error', error_description: 'Internal server error', requestId: 'r' });
    expect(oauthErrorBody('service_unavailable', 'redis down', 'r').error).toBe('temporarily_unavailable');
  });
});
