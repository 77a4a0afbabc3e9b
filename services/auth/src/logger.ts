import pino, { type Logger } from 'pino';

/** Paths that could ever hold a secret; pino replaces their values before anything is written. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers.token',
  'headers.authorization',
  'headers.token',
  '*.password',
  '*.pat',
  '*.key',
  '*.token',
  '*.access_token',
  '*.subject_token',
  '*.privateKeyPem',
  'password',
  'pat',
  'key',
  'access_token',
];

export function createLogger(level: string, name: string, destination?: pino.DestinationStream): Logger {
  return pino({ name, level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, destination);
}
