import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { parse, stringify } from 'yaml';
import { z } from 'zod';
import { UsageError } from './errors.js';

/**
 * Profiles, as Appclacks keeps them: one file, a named entry per Portcullis deployment (its URL and the
 * PAT the CLI uses there), and the current one. The file holds PATs, so it is written owner-only (0600)
 * and replaced atomically (a crash never leaves half a file).
 */

const PROFILE_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

const ProfileSchema = z.strictObject({
  url: z.url({ protocol: /^https?$/ }),
  pat: z.string().min(1),
  /** The token was created by `portcullis login` (email and password): `logout` retires it. */
  created_by_login: z.boolean().optional(),
});
export type Profile = z.infer<typeof ProfileSchema>;

const FileSchema = z.strictObject({
  current: z.string().optional(),
  profiles: z.record(z.string().regex(PROFILE_NAME_RE), ProfileSchema).default({}),
});
export type ProfilesFile = z.infer<typeof FileSchema>;

/** `PORTCULLIS_CONFIG`, else `$XDG_CONFIG_HOME/portcullis/config.yaml`, else `~/.config/portcullis/config.yaml`. */
export function defaultConfigPath(env: NodeJS.ProcessEnv): string {
  if (env.PORTCULLIS_CONFIG) return env.PORTCULLIS_CONFIG;
  const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config');
  return join(base, 'portcullis', 'config.yaml');
}

export function checkProfileName(name: string): string {
  if (!PROFILE_NAME_RE.test(name)) throw new UsageError(`invalid profile name "${name}": letters, digits, ".", "_" and "-", up to 64`);
  return name;
}

/** The file's profiles; an absent file has none. A file that does not parse or fit is an error, never overwritten. */
export function readProfiles(path: string): ProfilesFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { profiles: {} };
    throw new UsageError(`cannot read ${path}: ${(error as Error).message}`);
  }
  let data: unknown;
  try {
    data = parse(text) ?? {};
  } catch (error) {
    throw new UsageError(`${path} is not valid YAML: ${(error as Error).message.split('\n')[0]}`);
  }
  const parsed = FileSchema.safeParse(data);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(file)'}: ${issue.message}`);
    throw new UsageError(`${path} is not a valid profiles file:\n  ${problems.join('\n  ')}`);
  }
  return parsed.data;
}

export function writeProfiles(path: string, file: ProfilesFile): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, stringify(file), { mode: 0o600 });
  chmodSync(temporary, 0o600);
  renameSync(temporary, path);
}

/** The profile a command runs against: `--profile`, else `PORTCULLIS_PROFILE`, else the file's current one. */
export function selectProfile(file: ProfilesFile, wanted: string | undefined, path: string): { name: string; profile: Profile } {
  const name = wanted ?? file.current;
  if (name === undefined) throw new UsageError(`no profile: run "portcullis login --url <url>" first (profiles are kept in ${path})`);
  const profile = file.profiles[name];
  if (profile === undefined) throw new UsageError(`no profile "${name}" in ${path}: run "portcullis login --profile ${name} --url <url>"`);
  return { name, profile };
}
