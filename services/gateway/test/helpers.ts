import { MemoryRevocationBus } from '@portcullis/revocation';
import { type Logger, pino } from 'pino';
import {
  type EchoUpstream,
  type FakeAuth,
  TEST_AUDIENCE,
  TEST_ISSUER,
  startEchoUpstream,
  startFakeAuth,
} from '../../../test/support/gateway-harness.js';
import type { RevocationCheck } from '../src/authenticate.js';
import { loadGatewayConfig } from '../src/config.js';
import { type RunningGateway, startGateway } from '../src/start.js';

/** A fixed starting instant; tests move `clock.ms` instead of sleeping. */
export const T0 = 1_800_000_000_000;

export interface TestStack {
  gateway: RunningGateway;
  auth: FakeAuth;
  upstream: EchoUpstream;
  bus: MemoryRevocationBus;
  clock: { ms: number };
  url: string;
  close(): Promise<void>;
}

export interface StackOptions {
  /** Extra environment for the gateway (strings, as in production). */
  env?: Record<string, string>;
  /** A route table; `{{upstream}}` and `{{auth}}` are replaced by the servers' URLs. */
  routes?: string;
  /** Replaces the revocation set built on the bus. */
  revocation?: RevocationCheck;
  logger?: Logger;
}

/** Fake auth, echo upstream and a gateway in front of them, all on free loopback ports, one shared clock. */
export async function startStack(options: StackOptions = {}): Promise<TestStack> {
  const clock = { ms: T0 };
  const now = () => clock.ms;
  const auth = await startFakeAuth(now);
  const upstream = await startEchoUpstream();
  // The bus's heartbeat runs on real time; an hour keeps it out of tests that move the clock.
  const bus = new MemoryRevocationBus({ now, heartbeatMs: 3_600_000 });
  const env: Record<string, string> = {
    GATEWAY_HOST: '127.0.0.1',
    GATEWAY_PORT: '0',
    AUTH_URL: auth.url,
    UPSTREAM_URL: upstream.url,
    JWT_ISSUER: TEST_ISSUER,
    JWT_AUDIENCE: TEST_AUDIENCE,
    LOG_LEVEL: 'silent',
    SHUTDOWN_GRACE: '2s',
    // Tests move the clock far; only the revocation tests want staleness to follow it.
    REVOCATION_STALENESS: '10000h',
    ...options.env,
  };
  let routes = options.routes;
  if (routes !== undefined) {
    routes = routes.replaceAll('{{upstream}}', upstream.url).replaceAll('{{auth}}', auth.url);
    env.ROUTES_FILE = 'routes.yaml';
  }
  const config = loadGatewayConfig(env, () => routes ?? '');
  const logger = options.logger ?? pino({ level: 'silent' });
  const gateway = options.revocation
    ? await startGateway(config, { logger, now, revocation: options.revocation })
    : await startGateway(config, { logger, now, revocationSource: bus.source() });
  return {
    gateway,
    auth,
    upstream,
    bus,
    clock,
    url: gateway.url,
    async close() {
      await gateway.close();
      await Promise.all([auth.close(), upstream.close()]);
    },
  };
}
