import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError, env, formatDuration, parseDuration, parseEnv, redisEnv, redisTarget, redisTopologyCheck } from '../src/index.js';

describe('parseDuration', () => {
  it.each([
    ['10s', 10_000],
    ['60m', 3_600_000],
    ['10000h', 36_000_000_000],
    ['7d', 604_800_000],
    ['1h30m', 5_400_000],
    ['250ms', 250],
  ])('reads %s', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', '10', 'h', '-5s', '1.5h', '10 s', '10y', 'abc', '1h-'])('rejects %j', (text) => {
    expect(parseDuration(text)).toBeNull();
  });

  it('formats back to the largest whole unit', () => {
    expect(formatDuration(3_600_000)).toBe('1h');
    expect(formatDuration(90_000)).toBe('90s');
    expect(formatDuration(250)).toBe('250ms');
  });
});

describe('parseEnv', () => {
  const schema = z.object({
    PORT: env.port(8080),
    TTL: env.duration('1h'),
    FLAG: env.bool(false),
    URL: env.url().optional(),
  });

  it('applies defaults and treats empty strings as unset', () => {
    expect(parseEnv('test', schema, { PORT: '', FLAG: 'true' })).toEqual({ PORT: 8080, TTL: 3_600_000, FLAG: true });
  });

  it('reports every problem at once', () => {
    let caught: unknown;
    try {
      parseEnv('test', schema, { PORT: '99999', TTL: 'soon', FLAG: 'maybe', URL: 'nope' });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const problems = (caught as ConfigError).problems;
    expect(problems).toHaveLength(4);
    expect(problems.join('\n')).toMatch(/PORT/);
    expect(problems.join('\n')).toMatch(/TTL: "soon" is not a duration/);
    expect(problems.join('\n')).toMatch(/FLAG/);
    expect(problems.join('\n')).toMatch(/URL/);
  });
});

describe('redisEnv', () => {
  const schema = z.object(redisEnv);

  it('reads a sentinel list, with the master name defaulting to mymaster', () => {
    expect(parseEnv('test', schema, { REDIS_SENTINELS: 'a.example:26379, 10.0.0.2:26380,[::1]:26381' })).toEqual({
      REDIS_SENTINELS: [
        { host: 'a.example', port: 26379 },
        { host: '10.0.0.2', port: 26380 },
        { host: '::1', port: 26381 },
      ],
      REDIS_SENTINEL_NAME: 'mymaster',
    });
  });

  it.each(['a.example', 'a:0', 'a:70000', 'http://a:1', ','])('rejects REDIS_SENTINELS=%j', (value) => {
    expect(() => parseEnv('test', schema, { REDIS_SENTINELS: value })).toThrow(/REDIS_SENTINELS/);
  });

  it('reads a cluster node list, and maps everything to the revocation package\'s target', () => {
    const parsed = parseEnv('test', schema, { REDIS_CLUSTER_NODES: 'r1:7000,r2:7001', REDIS_URL: 'redis://:secret@ignored:1' });
    expect(redisTarget(parsed)).toEqual({
      url: 'redis://:secret@ignored:1',
      sentinels: undefined,
      sentinelName: 'mymaster',
      sentinelPassword: undefined,
      clusterNodes: [
        { host: 'r1', port: 7000 },
        { host: 'r2', port: 7001 },
      ],
    });
    expect(() => parseEnv('test', schema, { REDIS_CLUSTER_NODES: 'r1' })).toThrow(/REDIS_CLUSTER_NODES: expected host:port/);
  });

  it('refuses Sentinel and Cluster together, and a database number on a Cluster', () => {
    const checked = z.object(redisEnv).superRefine(redisTopologyCheck);
    expect(() => parseEnv('test', checked, { REDIS_SENTINELS: 's:26379', REDIS_CLUSTER_NODES: 'r1:7000' })).toThrow(
      /REDIS_CLUSTER_NODES: set REDIS_SENTINELS or REDIS_CLUSTER_NODES, not both/,
    );
    expect(() => parseEnv('test', checked, { REDIS_URL: 'redis://h/2', REDIS_CLUSTER_NODES: 'r1:7000' })).toThrow(/REDIS_URL: a Redis Cluster has only database 0/);
    expect(parseEnv('test', checked, { REDIS_URL: 'redis://h/2', REDIS_SENTINELS: 's:26379' }).REDIS_URL).toBe('redis://h/2');
  });

  it('accepts only redis:// and rediss:// URLs', () => {
    expect(parseEnv('test', schema, { REDIS_URL: 'rediss://u:p@h:6380/2' }).REDIS_URL).toBe('rediss://u:p@h:6380/2');
    expect(() => parseEnv('test', schema, { REDIS_URL: 'http://h' })).toThrow(/REDIS_URL/);
  });
});
