import { describe, expect, it } from 'vitest';
import { type CpuProfile, type ProfileNode, areaOf, summarizeProfile } from '../bench/profile.js';

/** A profile built by hand: `frames` as [id, parent id, functionName, url], then samples as [node id, µs since the previous]. */
function profile(frames: [number, number | null, string, string][], samples: [number, number][], startTime = 1_000): CpuProfile {
  const nodes: ProfileNode[] = frames.map(([id, , functionName, url]) => ({
    id,
    callFrame: { functionName, url, lineNumber: id, columnNumber: 0 },
    children: frames.filter(([, parent]) => parent === id).map(([child]) => child),
  }));
  return {
    nodes,
    startTime,
    endTime: startTime + samples.reduce((sum, [, delta]) => sum + delta, 0),
    samples: samples.map(([id]) => id),
    timeDeltas: samples.map(([, delta]) => delta),
  };
}

const GATEWAY = 'file:///repo/services/gateway/dist/app.js';
const HTTP_PROXY = 'file:///repo/node_modules/http-proxy/lib/http-proxy/common.js';

const FRAMES: [number, number | null, string, string][] = [
  [1, null, '(root)', ''],
  [2, 1, '(idle)', ''],
  [3, 1, '(garbage collector)', ''],
  [4, 1, 'handle', GATEWAY],
  [5, 4, 'setupOutgoing', HTTP_PROXY],
  // A native function has no script: it counts for its caller's area.
  [6, 5, 'writeLatin1String', ''],
  [7, 4, 'setHeader', 'node:_http_outgoing'],
  [8, 1, '(program)', ''],
  // A script function named like an Object.prototype method is an ordinary function of its script.
  [9, 4, 'toString', 'file:///repo/node_modules/jws/lib/tostring.js'],
];

describe('the bench profile summary', () => {
  it('adds self time by function and by area, native frames taking their caller’s area, idle apart', () => {
    const summary = summarizeProfile(
      profile(FRAMES, [
        [4, 100],
        [6, 250],
        [6, 250],
        [5, 50],
        [7, 30],
        [2, 900],
        [3, 40],
        [8, 10],
        [9, 5],
      ]),
    );
    expect(summary.busyUs).toBe(735);
    expect(summary.idleUs).toBe(900);
    expect(summary.areas).toEqual([
      { name: 'http-proxy', us: 550 },
      { name: 'gateway service', us: 100 },
      { name: 'garbage collection', us: 40 },
      { name: 'node:http', us: 30 },
      { name: 'V8 and native code outside any JavaScript frame', us: 10 },
      { name: 'jws', us: 5 },
    ]);
    expect(summary.functions[0]).toEqual({ name: 'writeLatin1String', where: '', area: 'http-proxy', us: 500 });
    expect(summary.functions[1]).toEqual({ name: 'handle', where: 'services/gateway/dist/app.js:5', area: 'gateway service', us: 100 });
    expect(summary.functions.find((f) => f.name === 'setupOutgoing')).toEqual({
      name: 'setupOutgoing',
      where: 'http-proxy/lib/http-proxy/common.js:6',
      area: 'http-proxy',
      us: 50,
    });
  });

  it('counts only the samples taken inside the windows, on the profile’s own clock', () => {
    // Samples at 1,100, 1,200, ... 1,800 µs.
    const samples: [number, number][] = Array.from({ length: 8 }, (_, i) => [i < 4 ? 4 : 7, 100]);
    const summary = summarizeProfile(profile(FRAMES, samples), [
      { fromUs: 1_150, toUs: 1_300 },
      { fromUs: 1_700, toUs: 2_000 },
    ]);
    // 1,200 and 1,300 (handle), 1,700 and 1,800 (setHeader).
    expect(summary.busyUs).toBe(400);
    expect(summary.areas).toEqual([
      { name: 'gateway service', us: 200 },
      { name: 'node:http', us: 200 },
    ]);
  });

  it('names the areas of scripts: packages, Node’s library, workspaces, the bench', () => {
    expect(areaOf('file:///r/node_modules/@scope/pkg/index.js')).toBe('@scope/pkg');
    expect(areaOf('file:///r/node_modules/a/node_modules/sonic-boom/index.js')).toBe('sonic-boom');
    expect(areaOf('node:_http_client')).toBe('node:http');
    expect(areaOf('node:internal/streams/readable')).toBe('node:stream');
    expect(areaOf('node:internal/stream_base_commons')).toBe('node:net');
    expect(areaOf('node:net')).toBe('node:net');
    expect(areaOf('node:internal/crypto/hash')).toBe('node:crypto');
    expect(areaOf('node:events')).toBe('node:events');
    expect(areaOf('node:internal/process/task_queues')).toBe('node:timers and ticks');
    expect(areaOf('node:fs')).toBe('node: other');
    expect(areaOf('file:///r/packages/revocation/dist/set.js')).toBe('@portcullis/revocation');
    expect(areaOf('file:///r/services/auth/src/app.ts')).toBe('auth service');
    expect(areaOf('file:///r/bench/servers/bare-proxy.ts')).toBe('bench server');
    expect(areaOf('')).toBeUndefined();
  });
});
