export { createApp } from './app.js';
export type { GatewayApp, GatewayAppConfig, GatewayAppDeps } from './app.js';
export { Authenticator } from './authenticate.js';
export type { AuthOutcome, AuthenticatorOptions, RevocationCheck } from './authenticate.js';
export {
  DEFAULT_AUTH_URL,
  DEFAULT_GATEWAY_PORT,
  DEFAULT_IDENTITY_HEADERS,
  DEFAULT_JWT_AUDIENCE,
  DEFAULT_JWT_ISSUER,
  DEFAULT_UPSTREAM_TIMEOUT,
  loadGatewayConfig,
} from './config.js';
export type { GatewayConfig, IdentityHeaderNames } from './config.js';
export { JwksCache } from './jwks.js';
export { createGatewayLogger, redactPaths } from './logger.js';
export { PatExchanger } from './pat-exchange.js';
export { parseRouteTable } from './route-table.js';
export type { RouteSpec, RouteTableResult } from './route-table.js';
export { AUTH_PROTECTED_PREFIXES, AUTH_PUBLIC_PREFIXES, assembleRoutes } from './routes.js';
export { startGateway } from './start.js';
export type { RunningGateway, StartGatewayDeps } from './start.js';
