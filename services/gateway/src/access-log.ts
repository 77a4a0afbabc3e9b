import { type Logger, symbols } from 'pino';

/** One access-log line: what pino-http would write, assembled from what the gateway already holds. */
export interface AccessLine {
  requestId: string;
  method: string;
  route: string;
  status: number;
  ms: number;
  tokenId?: string | undefined;
  subject?: string | undefined;
}

/** Writes one access line per request; absent when access logging is off. */
export type AccessLog = (line: AccessLine) => void;

/**
 * The access log, written straight to the logger's destination: the same line `logger.info(line,
 * 'request')` would write (pino's level, time and bindings, then the fields, then `msg`), without pino's
 * generic serializer: about 1 µs a line on the bench machine, where pino took 2.2 µs for the same line.
 *
 * Only `route` (from the route table), `tokenId` and `subject` (from a verified token) can hold characters
 * that need escaping, and only they go through JSON.stringify. The request id is either the client's,
 * checked against a plain-token pattern, or a UUID; methods are HTTP tokens (node:http refuses others). No
 * field is ever a credential, so nothing needs redaction.
 *
 * `pino.symbols` is pino's documented hook for "performant integration": the destination and the
 * serialized bindings are read from it once, here.
 */
export function createAccessLog(logger: Logger): AccessLog | undefined {
  if (!logger.isLevelEnabled('info')) return undefined;
  const internals = logger as unknown as { [symbols.streamSym]?: { write(line: string): void }; [symbols.chindingsSym]?: string };
  const stream = internals[symbols.streamSym];
  const bindings = internals[symbols.chindingsSym] ?? '';
  if (stream === undefined) throw new Error('pino logger without a destination stream');
  const head = `{"level":${logger.levels.values.info ?? 30},"time":`;
  const routes = new Map<string, string>();
  const quotedRoute = (route: string): string => {
    let quoted = routes.get(route);
    if (quoted === undefined) routes.set(route, (quoted = JSON.stringify(route)));
    return quoted;
  };

  return (line) => {
    let text = `${head}${Date.now()}${bindings},"requestId":"${line.requestId}","method":"${line.method}","route":${quotedRoute(line.route)},"status":${line.status},"ms":${Math.round(line.ms * 1000) / 1000}`;
    if (line.tokenId !== undefined) text += `,"tokenId":${JSON.stringify(line.tokenId)}`;
    if (line.subject !== undefined) text += `,"subject":${JSON.stringify(line.subject)}`;
    stream.write(`${text},"msg":"request"}\n`);
  };
}
