import type { ApiToken } from './client.js';

/** How tokens read in a terminal; `--json` prints the API's own answer instead. */

function state(t: ApiToken): string {
  if (t.retired) return 'retired';
  return t.enabled ? 'enabled' : 'disabled';
}

/** One token, a field per line. */
export function formatToken(t: ApiToken): string {
  const lines: [string, string][] = [
    ['id', t.id],
    ['name', t.name],
    ['description', t.description],
    ['kind', t.kind],
    ['state', state(t)],
    ['expires', t.expires ?? 'never'],
    ['permissions', t.permissions.join(', ')],
    ['created', t.created_at],
    ['last used', t.last_used_at ?? 'never'],
  ];
  const width = Math.max(...lines.map(([label]) => label.length));
  return lines.map(([label, value]) => `${label.padEnd(width)}  ${value}`).join('\n');
}

/** Tokens as a table with a header row, columns as wide as their widest cell. */
export function formatTokenTable(tokens: readonly ApiToken[]): string {
  const header = ['ID', 'NAME', 'KIND', 'STATE', 'EXPIRES', 'PERMISSIONS', 'LAST USED'];
  const rows = tokens.map((t) => [t.id, t.name, t.kind, state(t), t.expires ?? 'never', t.permissions.join(','), t.last_used_at ?? 'never']);
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => row[i]!.length)));
  return [header, ...rows].map((row) => row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}
