export { formatDuration, parseDuration } from './duration.js';
export { ConfigError, env, parseEnv, parseHostPorts, redisEnv } from './env.js';
