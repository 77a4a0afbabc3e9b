export { formatDuration, parseDuration } from './duration.js';
export { ConfigError, env, parseEnv, parseHostPorts, redisEnv, redisTarget, redisTopologyCheck } from './env.js';
