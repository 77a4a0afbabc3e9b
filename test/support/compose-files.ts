import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import ts from 'typescript';
import { parse } from 'yaml';

/** Readers for the deployment files (docker-compose.yml, Dockerfile) and the code they must agree with. */

export const ROOT = resolve(import.meta.dirname, '../..');

export function readRepoFile(path: string): string {
  return readFileSync(join(ROOT, path), 'utf8');
}

// ---------------------------------------------------------------- docker-compose.yml

export interface ComposeHealthcheck {
  test: string | string[];
}

export interface ComposeService {
  image?: string;
  build?: string | { context: string };
  command?: string | string[];
  environment?: Record<string, string | number | boolean | null> | string[];
  ports?: (string | number | { target: number; published?: string | number })[];
  expose?: (string | number)[];
  healthcheck?: ComposeHealthcheck;
  depends_on?: string[] | Record<string, { condition?: string }>;
  container_name?: string;
  stop_grace_period?: string;
  volumes?: string[];
  profiles?: string[];
}

export interface ComposeFile {
  services: Record<string, ComposeService>;
}

const VARIABLE_RE = /\$(?:\$|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))/g;

/**
 * Compose's interpolation of one value: `$$`, `$NAME`, `${NAME}`, `${NAME:-default}`, `${NAME-default}`,
 * `${NAME:?error}`, `${NAME?error}`, `${NAME:+alternative}`, `${NAME+alternative}`.
 */
export function interpolate(text: string, vars: Readonly<Record<string, string | undefined>>): string {
  return text.replace(VARIABLE_RE, (match, braced?: string, operator?: string, operand?: string, bare?: string) => {
    if (match === '$$') return '$';
    const name = (braced ?? bare)!;
    const value = vars[name];
    const unset = operator?.startsWith(':') ? value === undefined || value === '' : value === undefined;
    switch (operator?.replace(':', '')) {
      case undefined:
        return value ?? '';
      case '-':
        return unset ? operand! : value!;
      case '?':
        if (unset) throw new Error(`compose: ${name} is required: ${operand}`);
        return value!;
      case '+':
        return unset ? '' : operand!;
      default:
        throw new Error(`compose: unsupported interpolation ${match}`);
    }
  });
}

function interpolateDeep(value: unknown, vars: Readonly<Record<string, string | undefined>>): unknown {
  if (typeof value === 'string') return interpolate(value, vars);
  if (Array.isArray(value)) return value.map((item) => interpolateDeep(item, vars));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, interpolateDeep(item, vars)]));
  }
  return value;
}

/** docker-compose.yml as compose sees it once `vars` (the shell or `.env`) are interpolated. */
export function loadCompose(vars: Readonly<Record<string, string | undefined>> = {}): ComposeFile {
  return interpolateDeep(parse(readRepoFile('docker-compose.yml')), vars) as ComposeFile;
}

/** A service's environment as the container gets it. `KEY: null` takes the shell's value: unset here. */
export function environmentOf(service: ComposeService): Record<string, string> {
  const env = service.environment ?? {};
  const entries = Array.isArray(env)
    ? env.map((item): [string, string | null] => {
        const eq = item.indexOf('=');
        return eq < 0 ? [item, null] : [item.slice(0, eq), item.slice(eq + 1)];
      })
    : Object.entries(env).map(([key, value]): [string, string | null] => [key, value === null ? null : String(value)]);
  return Object.fromEntries(entries.filter((entry): entry is [string, string] => entry[1] !== null));
}

/** Argument vector of a command given as a list or as a plain string (no shell quoting supported). */
export function argv(command: string | string[]): string[] {
  return Array.isArray(command) ? command : command.trim().split(/\s+/);
}

/** The healthcheck as the process it runs: `CMD` lists run as is, `CMD-SHELL` and strings through sh. */
export function healthcheckArgv(check: ComposeHealthcheck): string[] {
  if (typeof check.test === 'string') return ['sh', '-c', check.test];
  const [kind, ...rest] = check.test;
  if (kind === 'CMD') return rest;
  if (kind === 'CMD-SHELL') return ['sh', '-c', rest.join(' ')];
  throw new Error(`unsupported healthcheck form ${JSON.stringify(check.test)}`);
}

export function dependenciesOf(service: ComposeService): Record<string, string> {
  const deps = service.depends_on ?? [];
  if (Array.isArray(deps)) return Object.fromEntries(deps.map((name) => [name, 'service_started']));
  return Object.fromEntries(Object.entries(deps).map(([name, spec]) => [name, spec.condition ?? 'service_started']));
}

/** Host side and container side of each short-syntax `ports` entry. */
export function publishedPorts(service: ComposeService): { host: string | undefined; container: number }[] {
  return (service.ports ?? []).map((entry) => {
    if (typeof entry === 'object') return { host: entry.published === undefined ? undefined : String(entry.published), container: entry.target };
    const parts = String(entry).split('/')[0]!.split(':');
    const container = Number(parts.pop());
    return { host: parts.length > 0 ? parts.pop() : undefined, container };
  });
}

// ---------------------------------------------------------------- Dockerfile

export interface DockerInstruction {
  keyword: string;
  args: string;
}

export interface DockerStage {
  name: string | undefined;
  from: string;
  instructions: DockerInstruction[];
}

export interface Dockerfile {
  /** `ARG`s before the first `FROM`, with their defaults. */
  globalArgs: Record<string, string>;
  stages: DockerStage[];
}

/** Instructions grouped by stage; comments dropped and `\` continuations joined. */
export function loadDockerfile(): Dockerfile {
  const lines = readRepoFile('Dockerfile').split('\n');
  const logical: string[] = [];
  let pending = '';
  for (const raw of lines) {
    const line = raw.trim();
    if (line.startsWith('#') || (line === '' && pending === '')) continue;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1).trim()} `;
      continue;
    }
    logical.push(`${pending}${line}`.trim());
    pending = '';
  }
  const dockerfile: Dockerfile = { globalArgs: {}, stages: [] };
  for (const text of logical.filter((l) => l !== '')) {
    const space = text.search(/\s/);
    const keyword = text.slice(0, space).toUpperCase();
    const args = text.slice(space + 1).trim();
    if (keyword === 'FROM') {
      const [from, as, name] = args.split(/\s+/);
      dockerfile.stages.push({ name: as?.toUpperCase() === 'AS' ? name : undefined, from: from!, instructions: [] });
    } else if (dockerfile.stages.length === 0) {
      if (keyword !== 'ARG') throw new Error(`Dockerfile: ${keyword} before the first FROM`);
      const [name, value] = args.split('=');
      dockerfile.globalArgs[name!] = value ?? '';
    } else {
      dockerfile.stages.at(-1)!.instructions.push({ keyword, args });
    }
  }
  return dockerfile;
}

/** A stage with every instruction it inherits from the stages it is built `FROM`, base first. */
export function stageChain(dockerfile: Dockerfile, name: string): DockerInstruction[] {
  const stage = dockerfile.stages.find((s) => s.name === name);
  if (!stage) throw new Error(`Dockerfile has no stage ${name}`);
  const parent = dockerfile.stages.some((s) => s.name === stage.from) ? stageChain(dockerfile, stage.from) : [];
  return [...parent, ...stage.instructions];
}

/** `CMD ["node", "x.js"]`: exec form only, so signals reach Node. */
export function execForm(instruction: DockerInstruction): string[] {
  const parsed = JSON.parse(instruction.args) as unknown;
  if (!Array.isArray(parsed) || !parsed.every((item) => typeof item === 'string')) {
    throw new Error(`${instruction.keyword} is not in exec form: ${instruction.args}`);
  }
  return parsed;
}

// ---------------------------------------------------------------- workspaces and TypeScript

/** Every workspace folder (`packages/jwt`, `services/auth`, ...), from the root package.json's globs. */
export function workspaces(): string[] {
  const { workspaces: globs } = JSON.parse(readRepoFile('package.json')) as { workspaces: string[] };
  return globs.flatMap((glob) => {
    if (!glob.endsWith('/*')) return [glob];
    const parent = glob.slice(0, -2);
    return readdirSync(join(ROOT, parent), { withFileTypes: true })
      .filter((entry) => entry.isDirectory() && existsSync(join(ROOT, parent, entry.name, 'package.json')))
      .map((entry) => `${parent}/${entry.name}`);
  });
}

/** A tsconfig with `extends` applied: absolute rootDir/outDir, the files it compiles, its references. */
export function readTsconfig(dir: string): ts.ParsedCommandLine {
  const path = join(ROOT, dir, 'tsconfig.json');
  const { config, error } = ts.readConfigFile(path, (p) => ts.sys.readFile(p));
  if (error) throw new Error(ts.flattenDiagnosticMessageText(error.messageText, '\n'));
  return ts.parseJsonConfigFileContent(config, ts.sys, join(ROOT, dir), undefined, path);
}
