import { PassThrough, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { relayBody } from '../src/upstream-response.js';

/** Lets the streams run what they scheduled (nextTick, microtasks, immediates): no time passes. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A client side that holds every write until the test releases it, like a socket whose peer stopped reading. */
function heldClient(highWaterMark: number) {
  const chunks: string[] = [];
  const pending: (() => void)[] = [];
  let finished = false;
  const client = new Writable({
    highWaterMark,
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk.toString());
      pending.push(() => callback());
    },
  });
  client.on('finish', () => (finished = true));
  return {
    client,
    chunks,
    finished: () => finished,
    release: () => {
      for (const done of pending.splice(0)) done();
    },
  };
}

describe('relayBody', () => {
  it('writes every chunk in order and ends the client side with the upstream', async () => {
    const upstream = new PassThrough();
    const chunks: string[] = [];
    const client = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        chunks.push(chunk.toString());
        callback();
      },
    });
    const finished = new Promise<void>((resolve) => client.on('finish', resolve));
    relayBody(upstream, client);
    upstream.write('a');
    upstream.write('b');
    upstream.end('c');
    await finished;
    expect(chunks).toEqual(['a', 'b', 'c']);
  });

  it('pauses the upstream while the client side is full, and resumes it on drain', async () => {
    const upstream = new PassThrough();
    const held = heldClient(4);
    relayBody(upstream, held.client);
    upstream.write('12345678'); // over the client's high-water mark: its write() answers false
    await settle();
    expect(upstream.isPaused()).toBe(true);
    upstream.write('ok');
    await settle();
    // Nothing more is taken from the upstream until the client side drains.
    expect(held.chunks).toEqual(['12345678']);

    held.release();
    await settle();
    expect(upstream.isPaused()).toBe(false);
    expect(held.chunks).toEqual(['12345678', 'ok']);
    upstream.end();
    held.release();
    await settle();
    expect(held.finished()).toBe(true);
  });
});
