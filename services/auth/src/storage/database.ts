/**
 * The one thing storage needs from PostgreSQL: parameterised queries and transactions.
 * Implemented by the `pg` driver (a server at DATABASE_URL) and by PGlite (embedded); same SQL for both.
 */
export interface Queryable {
  query<R>(text: string, params?: readonly unknown[]): Promise<R[]>;
}

export interface Database extends Queryable {
  transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
  /** For readiness checks and logs: `postgres` or `pglite`. */
  readonly kind: 'postgres' | 'pglite';
  /**
   * Only for a database no other process can write (PGlite, in this process): a counter that moves on
   * every statement that is not a SELECT, so a reader can tell that nothing changed since it last looked.
   */
  readonly writes?: () => number;
}

const READ_ONLY_RE = /^\s*SELECT\b/i;

/** Whether a statement may change data (anything but a plain SELECT counts, to be safe). */
export function mayWrite(text: string): boolean {
  return !READ_ONLY_RE.test(text);
}
