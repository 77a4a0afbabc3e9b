import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { type AccessLine, createAccessLog } from '../src/access-log.js';

function capture(level = 'info') {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { logger: pino({ name: 'gateway', level }, sink), lines };
}

const LINE: AccessLine = {
  requestId: '6f0c1c2e-3a4b-4c5d-8e9f-0a1b2c3d4e5f',
  method: 'GET',
  route: '/api/"quoted"\\path',
  status: 200,
  ms: 1.23456,
  tokenId: 'b3f1c2d4-1111-4222-8333-944455556666',
  subject: 'user "x" \\ y',
};

describe('the access log', () => {
  it('writes the line logger.info(fields, "request") would write, escaping route, token id and subject', () => {
    const { logger, lines } = capture();
    createAccessLog(logger)!(LINE);
    logger.info(LINE, 'request');
    expect(lines).toHaveLength(2);
    expect(lines[0]!.endsWith('\n')).toBe(true);
    const [ours, pinos] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(typeof ours!.time).toBe('number');
    expect({ ...ours, time: 0 }).toEqual({ ...pinos, time: 0, ms: 1.235 });
    // Same keys in the same order, as a log shipper splitting on them would see.
    expect(Object.keys(ours!)).toEqual(Object.keys(pinos!));
  });

  it('leaves out the token fields of an unauthenticated request', () => {
    const { logger, lines } = capture();
    createAccessLog(logger)!({ ...LINE, route: 'gateway', status: 401, tokenId: undefined, subject: undefined });
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(line).toMatchObject({ route: 'gateway', status: 401, msg: 'request', level: 30, name: 'gateway' });
    expect(line).not.toHaveProperty('tokenId');
    expect(line).not.toHaveProperty('subject');
  });

  it('is off when the logger does not log info', () => {
    expect(createAccessLog(capture('warn').logger)).toBeUndefined();
  });
});
