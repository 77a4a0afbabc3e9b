export { buildProgram, runCli } from './cli.js';
export type { CliIo, ExitCode } from './cli.js';
export { PortcullisClient } from './client.js';
export type { ApiToken, User } from './client.js';
export { ApiError, ConnectionError, UsageError } from './errors.js';
export { promptSecret, typeSecret } from './prompt.js';
export type { SecretInput } from './prompt.js';
export { defaultConfigPath, readProfiles, writeProfiles } from './profiles.js';
export type { Profile, ProfilesFile } from './profiles.js';
