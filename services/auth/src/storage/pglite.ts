import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { type Database, mayWrite } from './database.js';

/**
 * A Database on PGlite: PostgreSQL compiled to WebAssembly, in this process.
 * `dataDir` undefined keeps everything in memory (tests); otherwise the folder persists across restarts.
 */
export async function openPglite(dataDir?: string): Promise<Database> {
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  const db = await PGlite.create(dataDir);
  // PGlite lives in this process and nothing else can open its folder, so every write passes here.
  let writes = 0;
  const counted = (text: string) => {
    if (mayWrite(text)) writes++;
  };
  return {
    kind: 'pglite',
    query: async (text, params) => {
      counted(text);
      return (await db.query(text, params as unknown[])).rows as never[];
    },
    transaction: (work) =>
      db.transaction((tx) =>
        work({
          query: async (text, params) => {
            counted(text);
            return (await tx.query(text, params as unknown[])).rows as never[];
          },
        }),
      ),
    close: () => db.close(),
    writes: () => writes,
  };
}
