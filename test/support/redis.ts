import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A throwaway `redis-server` owned by one test file: it can be stopped and restarted on the same port. */
export interface RedisServer {
  readonly url: string;
  readonly port: number;
  /** Stops the server (SIGTERM, as an orderly shutdown); clients see their connections close. */
  stop(): Promise<void>;
  /** Starts it again on the same port after `stop()`, empty (nothing is persisted). */
  start(): Promise<void>;
  flushAll(): Promise<void>;
  /** Stops it for good and removes its working folder. */
  close(): Promise<void>;
  /** The server's process id while it runs (the bench places it on CPUs). */
  readonly pid: number | undefined;
}

const READY_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;

/** Every server still running, killed when the test process exits, even on a crash. */
const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

function redisBinary(): string {
  return existsSync('/usr/bin/redis-server') ? '/usr/bin/redis-server' : 'redis-server';
}

/** A port the OS just handed out; redis-server binds it a moment later (a race tests can live with). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== 'object' || address === null) throw new Error('no port from the OS');
  return address.port;
}

/** One inline command over a bare socket: the helper needs no Redis client of its own. */
function command(port: number, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    let reply = '';
    socket.setEncoding('utf8');
    socket.once('error', reject);
    socket.on('data', (chunk: string) => {
      reply += chunk;
      if (reply.endsWith('\r\n')) {
        socket.end();
        resolve(reply.trim());
      }
    });
    socket.once('connect', () => socket.write(`${line}\r\n`));
  });
}

async function waitForPing(port: number, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`redis-server exited (${child.exitCode ?? child.signalCode}): ${output()}`);
    }
    const reply = await command(port, 'PING').catch(() => '');
    if (reply === '+PONG') return;
    if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not answer PING: ${output()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** `extraArgs` go after the defaults, e.g. `['--cluster-enabled', 'yes']`. */
export async function startRedis(extraArgs: readonly string[] = []): Promise<RedisServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-redis-'));
  let child: ChildProcess | undefined;

  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  args.push('--dir', dir, '--loglevel', 'warning', ...extraArgs);

  async function start(): Promise<void> {
    if (child) throw new Error('redis-server is already running');
    let output = '';
    // setpriv makes the kernel kill redis-server if this process dies without running its exit hook
    // (SIGKILL, a killed test worker): no orphan keeps a port or a CPU.
    const [file, argv] = existsSync('/usr/bin/setpriv')
      ? ['/usr/bin/setpriv', ['--pdeathsig', 'KILL', '--', redisBinary(), ...args]]
      : [redisBinary(), args];
    const spawned = spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = spawned;
    running.add(spawned);
    spawned.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    spawned.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    spawned.once('exit', () => running.delete(spawned));
    try {
      await waitForPing(port, spawned, () => output);
    } catch (error) {
      await stop();
      throw error;
    }
  }

  async function stop(): Promise<void> {
    const current = child;
    child = undefined;
    if (!current || current.exitCode !== null || current.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => current.once('exit', () => resolve()));
    current.kill('SIGTERM');
    const timer = setTimeout(() => current.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  }

  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    start,
    stop,
    async flushAll() {
      const reply = await command(port, 'FLUSHALL');
      if (reply !== '+OK') throw new Error(`FLUSHALL answered ${reply}`);
    },
    async close() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
    get pid() {
      return child?.pid;
    },
  };
}

export interface RedisCluster {
  readonly nodes: readonly RedisServer[];
  /** `host:port,host:port,...`, as REDIS_CLUSTER_NODES takes it. */
  readonly addresses: string;
  /** FLUSHALL on every node: the whole cluster loses its data, as after a restart without persistence. */
  flushAll(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A Redis Cluster of `size` primaries (no replicas) on free ports, its 16384 slots spread by
 * `redis-cli --cluster create`; resolves once every node reports `cluster_state:ok`.
 */
export async function startRedisCluster(size = 3): Promise<RedisCluster> {
  const nodes = await Promise.all(
    Array.from({ length: size }, () =>
      startRedis(['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '2000']),
    ),
  );
  const close = async (): Promise<void> => {
    await Promise.all(nodes.map((node) => node.close()));
  };
  try {
    const cli = existsSync('/usr/bin/redis-cli') ? '/usr/bin/redis-cli' : 'redis-cli';
    const members = nodes.map((node) => `127.0.0.1:${node.port}`);
    await new Promise<void>((resolve, reject) => {
      const child = spawn(cli, ['--cluster', 'create', ...members, '--cluster-replicas', '0', '--cluster-yes'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.once('error', reject);
      child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`redis-cli --cluster create failed (${code}): ${output}`))));
    });
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (const node of nodes) {
      while (!(await command(node.port, 'CLUSTER INFO').catch(() => '')).includes('cluster_state:ok')) {
        if (Date.now() > deadline) throw new Error(`cluster node ${node.port} never reported cluster_state:ok`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  } catch (error) {
    await close();
    throw error;
  }
  return {
    nodes,
    addresses: nodes.map((node) => `127.0.0.1:${node.port}`).join(','),
    async flushAll() {
      await Promise.all(nodes.map((node) => node.flushAll()));
    },
    close,
  };
}

export interface SentinelServer {
  readonly port: number;
  /** `host:port`, as REDIS_SENTINELS takes it. */
  readonly address: string;
  close(): Promise<void>;
}

/** A Redis Sentinel (same binary, `--sentinel`) watching the primary on `primaryPort` as `name`. */
export async function startSentinel(primaryPort: number, name = 'mymaster'): Promise<SentinelServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-sentinel-'));
  const conf = join(dir, 'sentinel.conf');
  // Sentinel rewrites its config file as it learns the topology, so it must live in a writable folder.
  writeFileSync(conf, [`port ${port}`, 'bind 127.0.0.1', `dir ${dir}`, `sentinel monitor ${name} 127.0.0.1 ${primaryPort} 1`, `sentinel down-after-milliseconds ${name} 1000`, ''].join('\n'));
  let output = '';
  const [file, argv] = existsSync('/usr/bin/setpriv')
    ? ['/usr/bin/setpriv', ['--pdeathsig', 'KILL', '--', redisBinary(), conf, '--sentinel']]
    : [redisBinary(), [conf, '--sentinel']];
  const child = spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.once('exit', () => running.delete(child));
  await waitForPing(port, child, () => output);
  return {
    port,
    address: `127.0.0.1:${port}`,
    async close() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
