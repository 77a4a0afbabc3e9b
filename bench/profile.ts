/**
 * Where a process's CPU went, from the profile `node --cpu-prof` writes (V8's format, the one Chrome
 * DevTools and speedscope open as a flame graph). Pure: bench/profiled.ts feeds it the profile of a process
 * under load and the windows of its timed runs, and divides by the requests served in them.
 */

/** The subset of a `.cpuprofile` read here. */
export interface CpuProfile {
  nodes: ProfileNode[];
  /** µs on the machine's monotonic clock, the one `process.hrtime` reads in every process. */
  startTime: number;
  endTime: number;
  /** Node id of each sample's innermost frame. */
  samples: number[];
  /** µs from the previous sample (the first: from `startTime`). */
  timeDeltas: number[];
}

export interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}

export interface TimeShare {
  name: string;
  /** Sampled µs in the windows. */
  us: number;
}

export interface FunctionShare extends TimeShare {
  /** `file:line` (1-based), or empty for V8 builtins and native functions. */
  where: string;
  area: string;
}

export interface ProfileSummary {
  /** Sampled µs in the windows, idle excluded. */
  busyUs: number;
  idleUs: number;
  /** Self time by area, largest first. A native function counts for the area of the JavaScript that called it. */
  areas: TimeShare[];
  /** Self time by function, largest first. */
  functions: FunctionShare[];
}

export interface Window {
  fromUs: number;
  toUs: number;
}

const IDLE = '(idle)';
const OUTSIDE_JS = 'V8 and native code outside any JavaScript frame';
/** V8's pseudo-frames (a Map: a function named `toString` must not find Object.prototype's). */
const SPECIAL_AREAS = new Map([
  ['(garbage collector)', 'garbage collection'],
  ['(program)', OUTSIDE_JS],
  ['(root)', OUTSIDE_JS],
]);

/**
 * The area a script belongs to: a package under node_modules, a part of Node's own library, a workspace
 * of this repository, or the bench's own servers. `undefined` for frames without a script (V8 builtins,
 * native functions), which take their caller's.
 */
export function areaOf(url: string): string | undefined {
  if (url === '') return undefined;
  // The innermost node_modules: a dependency's own copy of a package is that package.
  const pkg = /.*node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (pkg) return pkg[1]!;
  if (url.startsWith('node:')) {
    if (/^node:_http_|^node:https?$/.test(url)) return 'node:http';
    if (/^node:(internal\/)?streams?\b|^node:stream$/.test(url)) return 'node:stream';
    if (/^node:(net|internal\/net|internal\/stream_base_commons)$/.test(url)) return 'node:net';
    if (/^node:(internal\/)?crypto/.test(url)) return 'node:crypto';
    if (/^node:(events|internal\/event_target)$/.test(url)) return 'node:events';
    if (/^node:internal\/(timers|process\/task_queues)$|^node:timers$/.test(url)) return 'node:timers and ticks';
    return 'node: other';
  }
  const workspace = /\/(services|packages)\/([^/]+)\//.exec(url);
  if (workspace) return workspace[1] === 'services' ? `${workspace[2]} service` : `@portcullis/${workspace[2]}`;
  if (url.includes('/bench/')) return 'bench server';
  return 'other';
}

/** Self time per area and per function over the samples taken inside `windows` (all of them without any). */
export function summarizeProfile(profile: CpuProfile, windows?: readonly Window[]): ProfileSummary {
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parent.set(child, node.id);
  }

  const areaCache = new Map<number, string>();
  const areaOfNode = (id: number): string => {
    const cached = areaCache.get(id);
    if (cached !== undefined) return cached;
    const node = byId.get(id);
    let area: string;
    if (!node) area = 'other';
    else {
      const { functionName, url } = node.callFrame;
      const up = parent.get(id);
      area = SPECIAL_AREAS.get(functionName) ?? areaOf(url) ?? (up === undefined ? 'other' : areaOfNode(up));
      // A builtin called from V8's own root frame: outside JavaScript, like `(program)`.
      if (area === 'other' && url === '' && up !== undefined && byId.get(up)?.callFrame.functionName === '(root)') {
        area = OUTSIDE_JS;
      }
    }
    areaCache.set(id, area);
    return area;
  };

  const areas = new Map<string, number>();
  const functions = new Map<string, FunctionShare>();
  let busyUs = 0;
  let idleUs = 0;
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = profile.timeDeltas[i] ?? 0;
    t += delta;
    if (windows && !windows.some((w) => t >= w.fromUs && t <= w.toUs)) continue;
    // The sample stands for the interval since the one before: that is when its stack was running.
    const node = byId.get(profile.samples[i]!);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === IDLE) {
      idleUs += delta;
      continue;
    }
    busyUs += delta;
    const area = areaOfNode(node.id);
    areas.set(area, (areas.get(area) ?? 0) + delta);
    const where = url === '' ? '' : `${shortUrl(url)}:${lineNumber + 1}`;
    const key = `${functionName}\u0000${where}\u0000${area}`;
    const share = functions.get(key) ?? { name: functionName || '(anonymous)', where, area, us: 0 };
    share.us += delta;
    functions.set(key, share);
  }

  const largestFirst = <T extends TimeShare>(a: T, b: T) => b.us - a.us;
  return {
    busyUs,
    idleUs,
    areas: [...areas].map(([name, us]) => ({ name, us })).sort(largestFirst),
    functions: [...functions.values()].sort(largestFirst),
  };
}

/** The part of a script URL worth printing: from `node_modules/`, the repository's folders, or as is. */
function shortUrl(url: string): string {
  const pkg = url.lastIndexOf('node_modules/');
  if (pkg >= 0) return url.slice(pkg + 'node_modules/'.length);
  const own = /\/((?:services|packages|bench)\/.*)$/.exec(url);
  return own ? own[1]! : url.replace(/^file:\/\//, '');
}
