import { randomUUID } from 'node:crypto';
import { Agent, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type SigningKey, generateSigningKey, signSessionToken, toJwks } from '@portcullis/jwt';
import { type RevocationEntry, createRedisRevocationWriter, encodeResyncMessage, revocationKeys } from '@portcullis/revocation';
import { Redis } from 'ioredis';
import { claimsFor } from '../../test/support/forge.js';
import { startRedis } from '../../test/support/redis.js';
import { idleNodeRss, residentSet } from '../children.js';
import { Cleanup } from '../cleanup.js';
import { call, mapLimit, waitUntil } from '../http.js';
import type { BenchOptions } from '../options.js';
import { mb } from '../stats.js';
import { ISSUER, PERMISSION, type Stack, TIMED_PATH, startGatewayProcess } from '../stack.js';

export interface MemoryResult {
  tokens: number;
  revocationEntries: number;
  /** RSS in bytes at each step, read from /proc/<pid>/status (VmRSS); peak is VmHWM at the end. */
  idleBytes: number;
  warmBytes: number;
  afterRevocationsBytes: number;
  afterTokensBytes: number;
  settledBytes: number;
  peakBytes: number;
  tokenSeconds: number;
  /** An idle `node -e` and the same under `--import tsx`: what the loader alone adds to every figure above. */
  idleNodeBytes: number;
  idleNodeTsxBytes: number;
  /**
   * Whole revocation snapshots the gateway loaded (its /metrics at the end): 1 is the load at start; more
   * means it reloaded the set during the test, reading every entry again.
   */
  revocationSnapshots: number;
  /** Why the gateway reloaded the set, as its /metrics counts them (`portcullis_gateway_revocation_reloads_total`). */
  revocationReloads: Record<string, number>;
  /**
   * After the figures above: one more load of the whole set, asked for by a resync message (as auth's rebuild
   * does; a reconnect does the same) while distinct tokens keep the gateway busy, every one of which must be
   * answered 200 (a reload slower than the staleness bound would make it answer 503). Its time, the tokens
   * answered meanwhile, and RSS and VmHWM once it is done. Not part of the target.
   */
  reload: { seconds: number; tokens: number; rssBytes: number; peakBytes: number };
  /** The gateway ran from `dist/` (as deployed) rather than from source under tsx. */
  compiled: boolean;
  method: string;
}

const WARM_REQUESTS = 2_000;
export const SETTLE_MS = 3_000;
const TOKEN_LIFETIME_SEC = 3_600;

const METHOD =
  'A gateway process (real main.ts, default TOKEN_CACHE_SIZE) verifies against a JWKS the bench serves, with a key the ' +
  'bench generated; the bench signs one session token per request (same claims shape as auth mints, distinct tid and jti), ' +
  'every one answered 200 through the full check path. The revocation entries are written to a private Redis with ' +
  "createRedisRevocationWriter, as auth does, and reach the gateway through the set's pub/sub; a token revoked by the " +
  'last entry answering 401 proves the gateway holds them all. Minting this many tokens through auth (bcrypt per PAT) ' +
  'would take hours on this machine.';
const HOW_IT_RAN = {
  compiled: ' The gateway runs as everywhere in the bench by default, compiled (node services/gateway/dist/main.js), as the Docker image runs it.',
  source:
    ' The gateway runs from source under tsx (--from=source), whose loader thread adds to its RSS what the compiled build ' +
    '(node dist/main.js) does not carry; the idle-node figures measure that overhead (a lower bound).',
};

/**
 * Section 4: a gateway's resident memory with N distinct verified tokens cached and N revocation entries
 * held: idle, after a warm-up, after the revocations, after the tokens, and a few seconds later.
 */
export async function benchMemory(stack: Stack, options: BenchOptions, log: (line: string) => void): Promise<MemoryResult> {
  const cleanup = new Cleanup();
  try {
    return await run(stack, options, log, cleanup);
  } finally {
    await cleanup.run();
  }
}

async function run(stack: Stack, options: BenchOptions, log: (line: string) => void, cleanup: Cleanup): Promise<MemoryResult> {
  const idleNodeBytes = await idleNodeRss(false, SETTLE_MS);
  const idleNodeTsxBytes = await idleNodeRss(true, SETTLE_MS);
  const key = generateSigningKey();
  const jwks = await serveJwks(key);
  cleanup.defer('JWKS server', () => jwks.close());
  const redis = await startRedis();
  cleanup.defer('memory redis', () => redis.close());
  const gateway = await startGatewayProcess(cleanup, {
    ...stack.gatewayEnv,
    AUTH_URL: jwks.url,
    JWKS_URL: `${jwks.url}/.well-known/jwks.json`,
    REDIS_URL: redis.url,
    ROUTES_FILE: stack.routesFile,
  }, stack.compiled);
  const pid = gateway.child.pid!;
  const rss = () => residentSet(pid).rssBytes;
  const agent = new Agent({ keepAlive: true, maxSockets: options.connections });
  cleanup.defer('memory agent', () => agent.destroy());
  const sign = (overrides: Parameters<typeof claimsFor>[0] = {}) =>
    signSessionToken(
      claimsFor({ iss: ISSUER, scope: PERMISSION, org: 'org-bench', tid: randomUUID(), exp: Math.floor(Date.now() / 1000) + TOKEN_LIFETIME_SEC, ...overrides }),
      key,
    );
  /** The status, and the body of an answer other than 200 (which says why), for the error message. */
  let lastRefusal = '';
  const get = async (token: string): Promise<number> => {
    const res = await call(agent, `${gateway.url}${TIMED_PATH}`, { headers: { Authorization: `Bearer ${token}` } });
    if (res.status !== 200) lastRefusal = res.body;
    return res.status;
  };
  /** The gateway's revocation and key-set state from its /metrics: what a 503 says nothing about. */
  const revocationState = async (): Promise<string> => {
    const res = await call(agent, `${gateway.url}/metrics`).catch((error: unknown) => ({ status: 0, body: String(error) }));
    if (res.status !== 200) return `(/metrics answered ${res.status})`;
    return res.body.split('\n').filter((line) => /^portcullis_gateway_(revocation|jwks)/.test(line)).join('\n');
  };
  const expectOk = async (status: number, what: string): Promise<void> => {
    if (status !== 200) throw new Error(`memory gateway answered ${status} to ${what}: ${lastRefusal}\n${await revocationState()}\n${gateway.tail()}`);
  };

  await sleep(SETTLE_MS);
  const idleBytes = rss();

  const warmToken = sign();
  await mapLimit(Array.from({ length: WARM_REQUESTS }), options.connections, async () => expectOk(await get(warmToken), 'warm-up'));
  const warmBytes = rss();

  const writerClient = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  cleanup.defer('writer client', () => writerClient.quit().catch(() => writerClient.disconnect()));
  const writer = createRedisRevocationWriter(writerClient);
  const now = Date.now();
  const entries: RevocationEntry[] = Array.from({ length: options.memoryRevocations }, (_, i) => ({
    // The last one is a PAT (`token`) entry: the probe below is a session minted from it.
    kind: (options.memoryRevocations - i) % 2 === 1 ? 'token' : 'session',
    id: randomUUID(),
    revokedAt: now,
    until: now + 2 * TOKEN_LIFETIME_SEC * 1000,
  }));
  let afterRevocationsBytes = rss();
  if (entries.length > 0) {
    const started = performance.now();
    await writer.revoke(entries);
    // Messages are applied in order: once the last entry bites, the gateway holds every one.
    const probe = sign({ tid: entries.at(-1)!.id, iat: Math.floor(now / 1000) - 1, nbf: Math.floor(now / 1000) - 1 });
    await waitUntil('the gateway to apply the revocation entries', async () => (await get(probe)) === 401, 60_000);
    log(`  ${entries.length} revocation entries written and applied in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    afterRevocationsBytes = rss();
  }

  const started = performance.now();
  let done = 0;
  await mapLimit(Array.from({ length: options.memoryTokens }), options.connections, async () => {
    await expectOk(await get(sign()), 'distinct token');
    if (++done % 20_000 === 0) log(`  ${done}/${options.memoryTokens} distinct tokens, RSS ${mb(rss())} MB`);
  });
  const tokenSeconds = (performance.now() - started) / 1000;
  const afterTokensBytes = rss();
  await expectOk(await get(warmToken), 'the first token after the flood');
  await sleep(SETTLE_MS);
  const { rssBytes: settledBytes, peakBytes } = residentSet(pid);
  log(`  ${options.memoryTokens} distinct tokens in ${tokenSeconds.toFixed(1)} s; RSS idle ${mb(idleBytes)} MB, after ${mb(afterTokensBytes)} MB, peak ${mb(peakBytes)} MB`);
  const metrics = await call(agent, `${gateway.url}/metrics`);
  const snapshots = snapshotCount(metrics.body);
  if (metrics.status !== 200 || snapshots === undefined) throw new Error(`gateway /metrics answered ${metrics.status} without the revocation snapshot count`);

  // Its own agent: the flood holds every socket of `agent`.
  const metricsAgent = new Agent({ keepAlive: true });
  cleanup.defer('metrics agent', () => metricsAgent.destroy());
  let reloaded = false;
  let reloadTokens = 0;
  const reloading = forcedReload(redis.url, snapshots, async () => (await call(metricsAgent, `${gateway.url}/metrics`)).body).finally(() => {
    reloaded = true;
  });
  const flood = mapLimit(Array.from({ length: options.connections }), options.connections, async () => {
    while (!reloaded) {
      await expectOk(await get(sign()), 'a distinct token during the reload');
      reloadTokens += 1;
    }
  });
  const [reloadSeconds] = await Promise.all([reloading, flood]);
  await expectOk(await get(warmToken), 'the first token after the reload');
  const afterReload = residentSet(pid);
  log(`  reload of the set in ${reloadSeconds.toFixed(2)} s under a flood of distinct tokens (${reloadTokens} answered 200 meanwhile); RSS after ${mb(afterReload.rssBytes)} MB, peak ${mb(afterReload.peakBytes)} MB`);

  return {
    reload: { seconds: reloadSeconds, tokens: reloadTokens, ...afterReload },
    tokens: options.memoryTokens,
    revocationEntries: entries.length,
    idleBytes,
    warmBytes,
    afterRevocationsBytes,
    afterTokensBytes,
    settledBytes,
    peakBytes,
    tokenSeconds,
    idleNodeBytes,
    idleNodeTsxBytes,
    revocationSnapshots: snapshots,
    revocationReloads: Object.fromEntries(
      [...metrics.body.matchAll(/^portcullis_gateway_revocation_reloads_total\{reason="(\w+)"\} (\d+)$/gm)].map((m) => [m[1]!, Number(m[2])]),
    ),
    compiled: stack.compiled,
    method: METHOD + (stack.compiled ? HOW_IT_RAN.compiled : HOW_IT_RAN.source),
  };
}

/** `portcullis_gateway_revocation_snapshots_total` from a /metrics body. */
function snapshotCount(body: string): number | undefined {
  const match = /^portcullis_gateway_revocation_snapshots_total (\d+)$/m.exec(body);
  return match === null ? undefined : Number(match[1]);
}

/** Asks the gateway to load the whole set again, as a rebuild does, and waits until it has: seconds taken. */
async function forcedReload(redisUrl: string, snapshotsBefore: number, metrics: () => Promise<string>): Promise<number> {
  const client = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  try {
    const started = performance.now();
    await client.publish(revocationKeys().channel, encodeResyncMessage());
    await waitUntil('the gateway to reload the revocation set', async () => (snapshotCount(await metrics()) ?? 0) > snapshotsBefore, 60_000);
    return (performance.now() - started) / 1000;
  } finally {
    client.disconnect();
  }
}


const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function serveJwks(key: SigningKey): Promise<{ url: string; close: () => Promise<void> }> {
  const body = JSON.stringify(toJwks([key]));
  const server = createServer((req, res) => {
    if (req.url !== '/.well-known/jwks.json') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'max-age=300' });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
