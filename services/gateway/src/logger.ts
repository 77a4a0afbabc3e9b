import { type DestinationStream, type Logger, pino } from 'pino';
import { batchedStdout } from './log-destination.js';

/** Header and field names whose values are credentials; `patHeader` is the configured PAT header. */
function secretNames(patHeader: string): string[] {
  return [...new Set(['authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'token', patHeader])];
}

/**
 * Where a credential could sit in a log line: request/response headers (ours and http-proxy's), and the
 * token fields of exchange bodies. The gateway logs ids, never tokens; this is the net under that rule.
 */
export function redactPaths(patHeader: string): string[] {
  const paths: string[] = ['pat', 'access_token', 'password', 'token', '*.pat', '*.access_token', '*.password', '*.token'];
  for (const name of secretNames(patHeader)) {
    const key = `["${name}"]`;
    paths.push(`headers${key}`, `*.headers${key}`, `req.headers${key}`, `res.headers${key}`);
  }
  return paths;
}

/** `destination` defaults to stdout, written in batches (log-destination.ts); tests pass a sink instead. */
export function createGatewayLogger(options: { level: string; patHeader: string }, destination?: DestinationStream): Logger {
  return pino(
    {
      name: 'gateway',
      level: options.level,
      redact: { paths: redactPaths(options.patHeader), censor: '[redacted]' },
    },
    destination ?? batchedStdout(),
  );
}
