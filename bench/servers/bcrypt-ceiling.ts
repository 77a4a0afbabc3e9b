import { randomBytes } from 'node:crypto';
import bcrypt from 'bcrypt';

/**
 * The exchange's ceiling: bcrypt compares per second at the auth service's cost, in a Node process of its
 * own with the same libuv thread pool as auth and the same number in flight as the load generator's
 * connections. It runs the same native `bcrypt` package auth uses. Prints one JSON line and exits.
 */
const cost = Number(process.env.BCRYPT_COST);
const concurrency = Number(process.env.CONCURRENCY);
const durationMs = Number(process.env.DURATION_MS);
const warmupMs = Number(process.env.WARMUP_MS ?? 0);

const secret = randomBytes(32).toString('base64url');
const hash = await bcrypt.hash(secret, cost);

async function run(ms: number): Promise<{ compares: number; seconds: number }> {
  const started = performance.now();
  const until = started + ms;
  let compares = 0;
  const worker = async (): Promise<void> => {
    while (performance.now() < until) {
      if (!(await bcrypt.compare(secret, hash))) throw new Error('bcrypt compare failed');
      compares++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  // Every compare started before the deadline is counted, and so is the time it took to finish.
  return { compares, seconds: (performance.now() - started) / 1000 };
}

if (warmupMs > 0) await run(warmupMs);
const { compares, seconds } = await run(durationMs);
process.stdout.write(`${JSON.stringify({ compares, seconds, perSec: compares / seconds, cost, concurrency })}\n`);
