import { hostname } from 'node:os';
import { Command, CommanderError, Option } from 'commander';
import { type ApiToken, PortcullisClient } from './client.js';
import { ApiError, ConnectionError, UsageError } from './errors.js';
import { formatToken, formatTokenTable } from './output.js';
import { type ProfilesFile, checkProfileName, defaultConfigPath, readProfiles, selectProfile, writeProfiles } from './profiles.js';

/** Where the CLI reads and writes: injected, so tests run it in-process against a real server. */
export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Read whole for `--password-stdin` and `--pat-stdin`. */
  stdin: AsyncIterable<string | Buffer>;
  env: NodeJS.ProcessEnv;
  fetch?: typeof fetch;
  /** Asks for a secret without echo when stdin is a terminal; undefined otherwise (or when absent). */
  promptSecret?: (prompt: string) => Promise<string | undefined>;
}

/** 0 done, 1 the server said no or could not be reached, 2 the command itself is wrong. */
export type ExitCode = 0 | 1 | 2;

interface GlobalOptions {
  profile?: string;
  config?: string;
  json?: boolean;
}

const LOGIN_TOKEN_NAME = 'portcullis-cli';

/**
 * A secret the user chose to give on standard input: read whole from a pipe or file, or, when standard
 * input is a terminal, asked for without echo (reading a terminal to its end would show the secret and
 * wait for Ctrl-D).
 */
async function secretFromStdin(io: CliIo, prompt: string): Promise<string> {
  return (await io.promptSecret?.(prompt)) ?? (await readAll(io.stdin));
}

async function readAll(stdin: AsyncIterable<string | Buffer>): Promise<string> {
  let text = '';
  for await (const chunk of stdin) text += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
  // One trailing newline is the terminator of the line, not part of the secret.
  return text.replace(/\r?\n$/, '');
}

/** `a,b, c` → `["a", "b", "c"]`; an empty list is refused (a token with no permission can do nothing). */
function permissionList(value: string): string[] {
  const list = value.split(',').map((p) => p.trim()).filter((p) => p !== '');
  if (list.length === 0) throw new UsageError('--permissions needs at least one permission (or "*")');
  return list;
}

/** `never` → null (no expiry); anything else is sent as given and checked by the server. */
function expiresValue(value: string): string | null {
  return value === 'never' ? null : value;
}

/** The server URL without a trailing slash; only http and https. */
function serverUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`--url: "${value}" is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`--url: only http and https, not ${url.protocol}`);
  if (url.search !== '' || url.hash !== '') throw new UsageError('--url: no query or fragment');
  return url.toString().replace(/\/+$/, '');
}

export function buildProgram(io: CliIo): Command {
  const program = new Command('portcullis');
  program
    .description('Command-line client for Portcullis: log in once per deployment, then manage your personal access tokens.')
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .exitOverride()
    .showHelpAfterError('(add --help for usage)')
    .option('-p, --profile <name>', 'profile to use (default: $PORTCULLIS_PROFILE, else the current profile)')
    .option('-c, --config <path>', 'profiles file (default: $PORTCULLIS_CONFIG, else ~/.config/portcullis/config.yaml)')
    .option('--json', 'print the API answer as JSON');

  const globals = (): GlobalOptions => program.opts<GlobalOptions>();
  const configPath = (): string => globals().config ?? defaultConfigPath(io.env);
  const wantedProfile = (): string | undefined => globals().profile ?? (io.env.PORTCULLIS_PROFILE || undefined);
  const print = (human: string, data: unknown): void => io.stdout(globals().json ? `${JSON.stringify(data, null, 2)}\n` : `${human}\n`);
  const client = (): PortcullisClient => {
    const path = configPath();
    const { profile } = selectProfile(readProfiles(path), wantedProfile(), path);
    return new PortcullisClient(profile.url, { pat: profile.pat }, io.fetch);
  };

  program
    .command('login')
    .description('Save a profile for a Portcullis deployment: with a PAT you have, or with email and password (a PAT is then created for the CLI)')
    .requiredOption('--url <url>', "the gateway's URL (or auth's)")
    .option('--pat <key>', 'a personal access token (prefer --pat-stdin: a command line is visible to other users)')
    .option('--pat-stdin', 'read the personal access token from standard input (asked for without echo at a terminal)')
    .option('--email <email>', 'log in with email and password instead')
    .option('--password-stdin', 'read the password from standard input (or set PORTCULLIS_PASSWORD; at a terminal, without either, it is asked for)')
    .option('--ttl <duration>', 'lifetime of the PAT created for an email login, such as 72h or 90d (default: the server\'s, 72h)')
    .action(async (options: { url: string; pat?: string; patStdin?: boolean; email?: string; passwordStdin?: boolean; ttl?: string }) => {
      const url = serverUrl(options.url);
      const name = checkProfileName(wantedProfile() ?? 'default');
      const ways = [options.pat !== undefined, options.patStdin === true, options.email !== undefined].filter(Boolean).length;
      if (ways !== 1) throw new UsageError('login needs exactly one of --pat, --pat-stdin and --email');
      if (options.ttl !== undefined && options.email === undefined) throw new UsageError('--ttl is for an email login (the PAT given already has its lifetime)');

      let pat: string;
      let createdByLogin = false;
      if (options.email !== undefined) {
        const prompt = `Password for ${options.email}: `;
        const password = options.passwordStdin
          ? await secretFromStdin(io, prompt)
          : io.env.PORTCULLIS_PASSWORD || (await io.promptSecret?.(prompt));
        if (!password) throw new UsageError('give the password at the prompt, on standard input (--password-stdin) or in PORTCULLIS_PASSWORD');
        const session = await PortcullisClient.passwordSession(url, options.email, password, io.fetch);
        const created = await new PortcullisClient(url, { session }, io.fetch).createToken({
          name: LOGIN_TOKEN_NAME,
          description: `created by portcullis login on ${hostname()}`,
          ...(options.ttl !== undefined ? { ttl: options.ttl } : {}),
        });
        if (created.key === undefined) throw new ConnectionError(`${url} created a token without answering its key`);
        pat = created.key;
        createdByLogin = true;
      } else {
        pat = options.pat ?? (await secretFromStdin(io, 'Personal access token: ')).trim();
        if (pat === '') throw new UsageError('no personal access token on standard input');
      }
      // Proves the PAT works here before it is saved, and says whose it is.
      const me = await new PortcullisClient(url, { pat }, io.fetch).me();

      const path = configPath();
      const file: ProfilesFile = readProfiles(path);
      file.profiles[name] = { url, pat, ...(createdByLogin ? { created_by_login: true } : {}) };
      file.current = name;
      writeProfiles(path, file);
      print(`Logged in to ${url} as ${me.email} (${me.role}); profile "${name}" saved in ${path} and now current.`, { profile: name, url, user: me });
    });

  program
    .command('logout')
    .description("Remove the profile; a PAT that login created is retired on the server too")
    .action(async () => {
      const path = configPath();
      const file = readProfiles(path);
      const { name, profile } = selectProfile(file, wantedProfile(), path);
      if (profile.created_by_login) await new PortcullisClient(profile.url, { pat: profile.pat }, io.fetch).revoke(profile.pat);
      delete file.profiles[name];
      if (file.current === name) delete file.current;
      writeProfiles(path, file);
      print(`Profile "${name}" removed${profile.created_by_login ? ' and its PAT retired' : ''}.`, { profile: name, retired: profile.created_by_login === true });
    });

  program
    .command('profiles')
    .description('List the saved profiles')
    .action(() => {
      const file = readProfiles(configPath());
      const rows = Object.entries(file.profiles).map(([name, p]) => ({ name, url: p.url, current: name === file.current }));
      const human = rows.length === 0 ? 'No profiles: run "portcullis login --url <url>".' : rows.map((r) => `${r.current ? '*' : ' '} ${r.name}  ${r.url}`).join('\n');
      print(human, rows);
    });

  program
    .command('use')
    .description('Make a saved profile the current one')
    .argument('<profile>')
    .action((name: string) => {
      const path = configPath();
      const file = readProfiles(path);
      selectProfile(file, name, path);
      file.current = name;
      writeProfiles(path, file);
      print(`Profile "${name}" is now current.`, { current: name });
    });

  program
    .command('whoami')
    .description('The user the current profile acts as')
    .action(async () => {
      const me = await client().me();
      print(`${me.email} (${me.role}), user ${me.id}, organization ${me.organization}`, me);
    });

  const token = program.command('token').description('Manage your personal access tokens');

  token
    .command('create')
    .description('Create a token; its key is shown once')
    .requiredOption('--name <name>')
    .option('--description <text>')
    .option('--ttl <duration>', 'lifetime such as 10s, 60m or 10000h (default: the server\'s, 72h)')
    .option('--expires <time>', 'RFC 3339 expiry, or "never"')
    .option('--permissions <list>', 'comma-separated, such as builds:read,builds:write (default: *)', permissionList)
    .addOption(new Option('--kind <kind>').choices(['user', 'account']))
    .option('--disabled', 'create it disabled')
    .action(async (options: { name: string; description?: string; ttl?: string; expires?: string; permissions?: string[]; kind?: string; disabled?: boolean }) => {
      if (options.ttl !== undefined && options.expires !== undefined) throw new UsageError('give --ttl or --expires, not both');
      const fields: Record<string, unknown> = { name: options.name };
      if (options.description !== undefined) fields.description = options.description;
      if (options.ttl !== undefined) fields.ttl = options.ttl;
      if (options.expires !== undefined) fields.expires = expiresValue(options.expires);
      if (options.permissions !== undefined) fields.permissions = options.permissions;
      if (options.kind !== undefined) fields.kind = options.kind;
      if (options.disabled) fields.enabled = false;
      const created = await client().createToken(fields);
      print(`${formatToken(created)}\n\nkey: ${created.key ?? ''}\nThe key is shown only now: store it somewhere safe.`, created);
    });

  token
    .command('list')
    .description('Your tokens (--all: every token of the organization, for admins)')
    .option('--all')
    .action(async (options: { all?: boolean }) => {
      const tokens: ApiToken[] = await client().listTokens(options.all === true);
      print(tokens.length === 0 ? 'No tokens.' : formatTokenTable(tokens), tokens);
    });

  token
    .command('get')
    .description('One token')
    .argument('<id>')
    .action(async (id: string) => {
      const found = await client().getToken(id);
      print(formatToken(found), found);
    });

  token
    .command('update')
    .description('Change a token; disabling, narrowing or shortening it ends the sessions already issued')
    .argument('<id>')
    .option('--name <name>')
    .option('--description <text>')
    .option('--enable')
    .option('--disable')
    .option('--ttl <duration>', 'new lifetime, counted from now')
    .option('--expires <time>', 'RFC 3339 expiry, or "never"')
    .option('--permissions <list>', 'comma-separated', permissionList)
    .action(async (id: string, options: { name?: string; description?: string; enable?: boolean; disable?: boolean; ttl?: string; expires?: string; permissions?: string[] }) => {
      if (options.enable && options.disable) throw new UsageError('give --enable or --disable, not both');
      if (options.ttl !== undefined && options.expires !== undefined) throw new UsageError('give --ttl or --expires, not both');
      const fields: Record<string, unknown> = {};
      if (options.name !== undefined) fields.name = options.name;
      if (options.description !== undefined) fields.description = options.description;
      if (options.enable) fields.enabled = true;
      if (options.disable) fields.enabled = false;
      if (options.ttl !== undefined) fields.ttl = options.ttl;
      if (options.expires !== undefined) fields.expires = expiresValue(options.expires);
      if (options.permissions !== undefined) fields.permissions = options.permissions;
      if (Object.keys(fields).length === 0) throw new UsageError('nothing to change: give at least one option (see portcullis token update --help)');
      const updated = await client().updateToken(id, fields);
      print(formatToken(updated), updated);
    });

  token
    .command('delete')
    .description('Delete a token; its sessions end')
    .argument('<id>')
    .action(async (id: string) => {
      await client().deleteToken(id);
      print(`Token ${id} deleted.`, { deleted: id });
    });

  return program;
}

/** Runs one command line (`argv` without node and the script) and answers its exit code; never throws. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  const program = buildProgram(io);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version exit 0; commander has already written its own message for everything else.
      return error.exitCode === 0 ? 0 : 2;
    }
    if (error instanceof UsageError) {
      io.stderr(`error: ${error.message}\n`);
      return 2;
    }
    if (error instanceof ApiError) {
      const details = error.details.filter((d) => !error.message.includes(d));
      const lines = [`error: ${error.message} (${error.status} ${error.code}${error.requestId ? `, request ${error.requestId}` : ''})`, ...details.map((d) => `  ${d}`)];
      io.stderr(`${lines.join('\n')}\n`);
      return 1;
    }
    if (error instanceof ConnectionError) {
      io.stderr(`error: ${error.message}\n`);
      return 1;
    }
    io.stderr(`error: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}
