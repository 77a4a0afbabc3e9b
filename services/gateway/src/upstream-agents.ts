import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';

/**
 * Idle upstream sockets are closed after this, below Node's default server keep-alive timeout (5 s), so
 * the gateway does not reuse a socket the upstream is closing at that moment (a spurious 502).
 */
export const UPSTREAM_FREE_SOCKET_TIMEOUT_MS = 4_000;

/**
 * One keep-alive agent per upstream origin, shared by the routes that point there.
 *
 * `maxSockets` stays unbounded on purpose: the requests in flight already bound the upstream sockets, and
 * a cap would park requests in the agent's queue, where the route timeout (watched once a request has its
 * socket) does not run yet. Node's defaults do the rest: up to 256 idle sockets kept, `lifo` scheduling,
 * which reuses the warmest socket and lets the surplus after a burst reach the idle timeout and close.
 *
 * Only options that differ from the defaults are given: node:http copies the agent's options into every
 * request's options (a spread into a dictionary object), so each extra key costs on every request.
 */
export class UpstreamAgents {
  private readonly agents = new Map<string, HttpAgent>();

  for(upstream: string): HttpAgent {
    const url = new URL(upstream);
    let agent = this.agents.get(url.origin);
    if (agent === undefined) {
      const options = { keepAlive: true, timeout: UPSTREAM_FREE_SOCKET_TIMEOUT_MS };
      agent = url.protocol === 'https:' ? new HttpsAgent(options) : new HttpAgent(options);
      this.agents.set(url.origin, agent);
    }
    return agent;
  }

  destroy(): void {
    for (const agent of this.agents.values()) agent.destroy();
    this.agents.clear();
  }
}

/** The upstream as http-proxy's parsed target: a string target would be parsed again on every request. */
export interface UpstreamTarget {
  protocol: string;
  host: string;
  hostname: string;
  port: string;
  /** The upstream URL's path, prepended to every forwarded path ('' for `/`). */
  path: string;
}

export function upstreamTarget(upstream: string): UpstreamTarget {
  const url = new URL(upstream);
  return {
    protocol: url.protocol,
    host: url.host,
    // WHATWG keeps IPv6 brackets in `hostname`; node:http wants the bare address.
    hostname: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port,
    path: url.pathname === '/' ? '' : url.pathname,
  };
}
