import { Redis } from 'ioredis';
import { redisOptionsForRevocation } from '../src/index.js';
import type { RedisServer } from '../../../test/support/redis.js';

/** Opens ioredis clients on a test server and closes every one of them at the end of the file. */
export function redisClients(server: () => RedisServer) {
  const open = new Set<Redis>();
  return {
    connect(): Redis {
      const client = new Redis(server().port, '127.0.0.1', redisOptionsForRevocation({ retryStrategy: () => 50 }));
      // Refused reconnects while a test has Redis stopped are expected; ioredis would print each one.
      client.on('error', () => {});
      open.add(client);
      return client;
    },
    /** A reader's pair: the subscriber cannot run ZRANGEBYSCORE once subscribed. */
    pair(): { subscriber: Redis; command: Redis } {
      return { subscriber: this.connect(), command: this.connect() };
    },
    closeAll(): void {
      // disconnect, not quit: QUIT would wait for a server a test may have stopped.
      for (const client of open) client.disconnect();
      open.clear();
    },
  };
}
