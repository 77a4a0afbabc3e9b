import { MemoryRevocationBus } from '../src/index.js';
import { revocationBackendContract } from './contract.js';

revocationBackendContract('the in-process bus', async (now) => {
  let bus = new MemoryRevocationBus({ now });
  return Promise.resolve({
    get writer() {
      return bus;
    },
    source: () => bus.source(),
    reset: async () => {
      bus = new MemoryRevocationBus({ now });
      return Promise.resolve();
    },
    stored: async () => Promise.resolve(bus.size),
    close: async () => bus.close(),
  });
});
