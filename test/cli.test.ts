import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { type AuthHandle, loadAuthConfig, startAuth } from '@portcullis/auth';
import { type CliIo, readProfiles, runCli } from '@portcullis/cli';
import { createGatewayLogger, loadGatewayConfig, startGateway, type RunningGateway } from '@portcullis/gateway';
import { MemoryRevocationBus } from '@portcullis/revocation';
import pino from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ROOT } from './support/compose-files.js';
import { call, closedPort, formPost } from './support/gateway-harness.js';
import { tempDataDir } from './support/processes.js';

const ADMIN = { email: 'admin@example.test', password: 'correct horse battery staple' };
const ISSUER = 'http://auth.test';

/**
 * The `portcullis` CLI (packages/cli) against the real auth service behind the real gateway: each command
 * runs in-process through runCli with its output captured, except the last test, which runs the real
 * executable. The profiles file lives in a temporary folder per test.
 */
describe('portcullis CLI', () => {
  let data: ReturnType<typeof tempDataDir>;
  let auth: AuthHandle;
  let gateway: RunningGateway;
  let home: string;
  let configPath: string;

  beforeAll(async () => {
    data = tempDataDir();
    const bus = new MemoryRevocationBus();
    const silent = pino({ level: 'silent' });
    auth = await startAuth(
      loadAuthConfig({ AUTH_PORT: '0', AUTH_HOST: '127.0.0.1', DATA_DIR: data.dir, ADMIN_EMAIL: ADMIN.email, ADMIN_PASSWORD: ADMIN.password, JWT_ISSUER: ISSUER, BCRYPT_COST: '4' }),
      { bus, log: silent },
    );
    // The gateway's default route table passes /auth/v1 and /api/v1 to auth: the CLI talks to the gateway.
    const config = loadGatewayConfig({ GATEWAY_PORT: '0', GATEWAY_HOST: '127.0.0.1', AUTH_URL: auth.url, JWT_ISSUER: ISSUER, UPSTREAM_URL: auth.url });
    gateway = await startGateway(config, { logger: createGatewayLogger({ level: 'silent', patHeader: config.patHeader }), revocationSource: bus.source() });
  }, 60_000);

  afterAll(async () => {
    await gateway?.close();
    await auth?.close();
    data?.remove();
  });

  beforeEach(() => {
    home = mkdtempSync(join(tmpdir(), 'portcullis-cli-'));
    configPath = join(home, 'portcullis', 'config.yaml');
    return () => rmSync(home, { recursive: true, force: true });
  });

  interface Run {
    code: number;
    out: string;
    err: string;
  }

  async function cli(argv: string[], options: { stdin?: string; env?: Record<string, string> } = {}): Promise<Run> {
    let out = '';
    let err = '';
    const io: CliIo = {
      stdout: (text) => void (out += text),
      stderr: (text) => void (err += text),
      stdin: Readable.from(options.stdin === undefined ? [] : [options.stdin]),
      env: { XDG_CONFIG_HOME: home, ...options.env },
    };
    const code = await runCli(argv, io);
    return { code, out, err };
  }

  async function login(profile = 'default'): Promise<Run> {
    const run = await cli(['--profile', profile, 'login', '--url', gateway.url, '--email', ADMIN.email, '--password-stdin'], { stdin: `${ADMIN.password}\n` });
    expect(run).toMatchObject({ code: 0, err: '' });
    return run;
  }

  /** Whether `pat` still exchanges for a session at auth. */
  async function exchanges(pat: string): Promise<boolean> {
    const res = await call(auth.url, '/auth/v1/token', formPost({ pat }));
    return res.status === 200;
  }

  it('login with email and password: creates a PAT for the CLI, saves it owner-only, and the profile works', async () => {
    const run = await login();
    expect(run.out).toContain(`as ${ADMIN.email} (admin)`);
    expect(statSync(configPath).mode & 0o777).toBe(0o600);
    const file = readProfiles(configPath);
    expect(file.current).toBe('default');
    const profile = file.profiles.default!;
    expect(profile).toMatchObject({ url: gateway.url, created_by_login: true });
    expect(await exchanges(profile.pat)).toBe(true);
    // Neither the password nor the PAT is ever printed.
    expect(run.out).not.toContain(ADMIN.password);
    expect(run.out).not.toContain(profile.pat);

    const me = await cli(['whoami', '--json']);
    expect(me.code).toBe(0);
    expect(JSON.parse(me.out)).toMatchObject({ email: ADMIN.email, role: 'admin' });
    const list = await cli(['token', 'list']);
    expect(list.out).toMatch(/^ID\s+NAME\s+KIND\s+STATE/);
    expect(list.out).toContain('portcullis-cli');
  });

  it('token create, get, list, update and delete, each seen on the server', async () => {
    await login();
    const created = await cli(['token', 'create', '--name', 'ci', '--description', 'build runner', '--ttl', '10h', '--permissions', 'builds:read, builds:write', '--json']);
    expect(created.code).toBe(0);
    const token = JSON.parse(created.out) as { id: string; key: string; permissions: string[]; expires: string; description: string };
    expect(token).toMatchObject({ permissions: ['builds:read', 'builds:write'], description: 'build runner' });
    expect(Date.parse(token.expires) - Date.now()).toBeGreaterThan(9.9 * 3600_000);
    expect(await exchanges(token.key)).toBe(true);

    const human = await cli(['token', 'create', '--name', 'other']);
    expect(human.out).toMatch(/^key: pcl_\w+$/m);
    expect(human.out).toContain('shown only now');

    const got = await cli(['token', 'get', token.id]);
    expect(got.out).toMatch(/^name\s+ci$/m);
    expect(got.out).toMatch(/^state\s+enabled$/m);
    expect(got.out).not.toContain(token.key);
    expect((await cli(['token', 'list'])).out).toContain(token.id);

    const disabled = await cli(['token', 'update', token.id, '--disable', '--expires', 'never', '--json']);
    expect(disabled.code).toBe(0);
    expect(JSON.parse(disabled.out)).toMatchObject({ enabled: false, expires: null });
    expect(await exchanges(token.key)).toBe(false);

    const deleted = await cli(['token', 'delete', token.id]);
    expect(deleted).toMatchObject({ code: 0, out: `Token ${token.id} deleted.\n` });
    const gone = await cli(['token', 'get', token.id]);
    expect(gone.code).toBe(1);
    expect(gone.err).toMatch(/^error: .* \(404 not_found, request [\w-]+\)\n$/);
  });

  it('answers what the server refuses with its message and code (exit 1), and changes nothing', async () => {
    await login();
    const before = (await cli(['token', 'list', '--json'])).out;
    const bad = await cli(['token', 'create', '--name', 'x', '--ttl', 'banana']);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/ttl.*\(400 validation_failed, request [\w-]+\)/);
    expect((await cli(['token', 'list', '--json'])).out).toBe(before);
  });

  it.each([
    ['a missing required option', ['token', 'create'], /required option '--name <name>'/],
    ['an unknown command', ['tokens'], /unknown command 'tokens'/],
    ['an update that changes nothing', ['token', 'update', 'some-id'], /nothing to change/],
    ['both --ttl and --expires', ['token', 'create', '--name', 'x', '--ttl', '1h', '--expires', 'never'], /--ttl or --expires/],
    ['an empty permission list', ['token', 'create', '--name', 'x', '--permissions', ' , '], /at least one permission/],
    ['a kind that does not exist', ['token', 'create', '--name', 'x', '--kind', 'robot'], /Allowed choices are user, account/],
    ['no profile yet', ['token', 'list'], /no profile: run "portcullis login/],
    ['two ways to log in', ['login', '--url', 'http://127.0.0.1:1', '--pat', 'x', '--email', 'a@b.c'], /exactly one of --pat, --pat-stdin and --email/],
    ['a URL that is not http', ['login', '--url', 'file:///etc/passwd', '--pat', 'x'], /only http and https/],
    ['a profile name that cannot be one', ['--profile', '../../etc', 'login', '--url', 'http://127.0.0.1:1', '--pat', 'x'], /invalid profile name/],
  ])('refuses %s before calling anything (exit 2)', async (_name, argv, message) => {
    const run = await cli(argv);
    expect(run.code).toBe(2);
    expect(run.err).toMatch(message);
    expect(run.out).toBe('');
  });

  it('refuses a profiles file it cannot read as one, and never overwrites it (exit 2)', async () => {
    await login();
    const broken = 'profiles:\n  default:\n    url: not a url\n';
    writeFileSync(configPath, broken);
    const run = await cli(['--profile', 'next', 'login', '--url', gateway.url, '--email', ADMIN.email, '--password-stdin'], { stdin: ADMIN.password });
    expect(run.code).toBe(2);
    expect(run.err).toContain('is not a valid profiles file');
    expect(run.err).toContain('profiles.default.url');
    expect(readFileSync(configPath, 'utf8')).toBe(broken);
  });

  it('says when the server cannot be reached (exit 1)', async () => {
    const port = await closedPort();
    const run = await cli(['login', '--url', `http://127.0.0.1:${port}`, '--pat-stdin'], { stdin: 'pcl_whatever' });
    expect(run.code).toBe(1);
    expect(run.err).toBe(`error: cannot reach http://127.0.0.1:${port}: ECONNREFUSED\n`);
    expect(readProfiles(configPath)).toEqual({ profiles: {} });
  });

  it('keeps one profile per deployment or identity: login with a PAT, list, switch, choose per command', async () => {
    await login();
    const created = JSON.parse((await cli(['token', 'create', '--name', 'ci-bot', '--permissions', 'ListAPITokens,GetUser', '--json'])).out) as { key: string };
    const ci = await cli(['--profile', 'ci', 'login', '--url', `${gateway.url}/`, '--pat-stdin'], { stdin: `${created.key}\n` });
    expect(ci.code).toBe(0);
    expect(readProfiles(configPath).profiles.ci).toEqual({ url: gateway.url, pat: created.key });

    expect((await cli(['profiles'])).out).toBe(`  default  ${gateway.url}\n* ci  ${gateway.url}\n`);
    expect((await cli(['use', 'default'])).code).toBe(0);
    expect(readProfiles(configPath).current).toBe('default');
    expect((await cli(['use', 'nope'])).code).toBe(2);

    // The ci profile's PAT may list tokens but not create them.
    const denied = await cli(['token', 'create', '--name', 'x'], { env: { PORTCULLIS_PROFILE: 'ci' } });
    expect(denied.code).toBe(1);
    expect(denied.err).toMatch(/\(403 \w+/);
    expect((await cli(['--profile', 'ci', 'token', 'list'])).code).toBe(0);
  });

  it("logout retires the PAT login created, but not a PAT the user brought", async () => {
    await login();
    const mine = readProfiles(configPath).profiles.default!.pat;
    const brought = JSON.parse((await cli(['token', 'create', '--name', 'brought', '--json'])).out) as { key: string };
    await cli(['--profile', 'brought', 'login', '--url', gateway.url, '--pat-stdin'], { stdin: brought.key });

    const out = await cli(['--profile', 'default', 'logout']);
    expect(out).toMatchObject({ code: 0, out: 'Profile "default" removed and its PAT retired.\n' });
    expect(await exchanges(mine)).toBe(false);

    expect((await cli(['--profile', 'brought', 'logout'])).out).toBe('Profile "brought" removed.\n');
    expect(await exchanges(brought.key)).toBe(true);
    expect(readProfiles(configPath)).toEqual({ profiles: {} });
  });

  /**
   * The real executable at a real terminal: `script` (util-linux) runs it on a pseudo-terminal and relays
   * what it prints. `answer` is typed once the prompt has appeared, as a person would.
   */
  function atTerminal(args: string[], answer: string): Promise<{ code: number | null; screen: string }> {
    const command = [process.execPath, '--conditions=source', '--import', 'tsx', join(ROOT, 'packages/cli/src/main.ts'), ...args]
      .map((word) => `'${word.replaceAll("'", "'\\''")}'`)
      .join(' ');
    const child = spawn('script', ['-qec', command, '/dev/null'], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', XDG_CONFIG_HOME: home, TERM: 'dumb' } });
    let screen = '';
    let typed = false;
    child.stdout.on('data', (chunk: Buffer) => {
      screen += chunk.toString('utf8');
      if (!typed && /Password for |Personal access token: /.test(screen)) {
        typed = true;
        child.stdin.write(answer);
      }
    });
    return new Promise((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, screen }));
    });
  }

  it('at a terminal, asks for the password without echoing it', async () => {
    const run = await atTerminal(['login', '--url', gateway.url, '--email', ADMIN.email], `${ADMIN.password}\r`);
    expect(run.screen).toContain(`Password for ${ADMIN.email}: `);
    expect(run.screen).toContain(`as ${ADMIN.email} (admin)`);
    expect(run.code).toBe(0);
    // Neither echoed while typed nor printed after.
    expect(run.screen).not.toContain(ADMIN.password);
    const { pat } = readProfiles(configPath).profiles.default!;
    expect(await exchanges(pat)).toBe(true);
  });

  it('at a terminal, --pat-stdin asks for the PAT without echoing it', async () => {
    const created = await cli(['--profile', 'setup', 'login', '--url', gateway.url, '--email', ADMIN.email, '--password-stdin'], { stdin: ADMIN.password });
    expect(created.code).toBe(0);
    const { pat } = readProfiles(configPath).profiles.setup!;
    const run = await atTerminal(['--profile', 'typed', 'login', '--url', gateway.url, '--pat-stdin'], `${pat}\r`);
    expect(run.screen).toContain('Personal access token: ');
    expect(run.code).toBe(0);
    expect(run.screen).not.toContain(pat);
    expect(readProfiles(configPath).profiles.typed).toMatchObject({ url: gateway.url, pat });
  });

  it('at a terminal, Ctrl-C at the password prompt cancels: exit 2, nothing saved', async () => {
    const run = await atTerminal(['login', '--url', gateway.url, '--email', ADMIN.email], 'half-typed\u0003');
    expect(run.screen).toContain('error: cancelled');
    expect(run.code).toBe(2);
    expect(run.screen).not.toContain('half-typed');
    expect(readProfiles(configPath)).toEqual({ profiles: {} });
  });

  it('runs as a real executable: help exits 0, a usage error exits 2', () => {
    const bin = ['--conditions=source', '--import', 'tsx', join(ROOT, 'packages/cli/src/main.ts')];
    const env = { PATH: process.env.PATH ?? '', XDG_CONFIG_HOME: home };
    const help = spawnSync(process.execPath, [...bin, '--help'], { cwd: ROOT, env, encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('token');
    const usage = spawnSync(process.execPath, [...bin, 'token', 'list'], { cwd: ROOT, env, encoding: 'utf8' });
    expect(usage.status).toBe(2);
    expect(usage.stderr).toContain('no profile');
  });
});
