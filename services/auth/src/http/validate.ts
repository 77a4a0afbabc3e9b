import { HttpError } from '@portcullis/errors';
import type { z } from 'zod';

/** Parses input with a zod schema; every problem is reported, each with its field path. */
export function validate<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const details = result.error.issues.flatMap((issue) => {
    const at = issue.path.map(String);
    // An unknown field is reported at its own path, so a misspelt name is pointed at, not the whole body.
    if (issue.code === 'unrecognized_keys') return issue.keys.map((key) => ({ path: [...at, key].join('.'), message: 'unknown field' }));
    return [{ path: at.join('.') || '(body)', message: issue.message }];
  });
  throw new HttpError('validation_failed', `Invalid request: ${details.map((d) => `${d.path}: ${d.message}`).join('; ')}`, { details });
}
