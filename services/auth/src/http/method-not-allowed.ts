import type { Express, NextFunction, Request, Response } from 'express';
import { sendError } from './errors.js';

/** The parts of express 5's router this reads: a stack of layers, each a route or a mounted router. */
interface Layer {
  match(path: string): boolean;
  route?: { methods: Record<string, boolean> };
  handle?: { stack?: Layer[] };
}

function collectMethods(stack: readonly Layer[], path: string, into: Set<string>): void {
  for (const layer of stack) {
    if (layer.route) {
      if (!layer.match(path)) continue;
      for (const [method, on] of Object.entries(layer.route.methods)) if (on && method !== '_all') into.add(method.toUpperCase());
    } else if (layer.handle?.stack && layer.match(path)) {
      collectMethods(layer.handle.stack, path, into);
    }
  }
}

/**
 * Placed after every route: a path the app serves, asked with a method it does not, answers 405
 * `method_not_allowed` with `Allow` (RFC 9110 §15.5.6) instead of 404. Unknown paths fall through to 404.
 * The methods come from the routes as registered, so the answer can never disagree with the app.
 */
export function methodNotAllowed(app: Express) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const methods = new Set<string>();
    collectMethods((app.router as unknown as { stack: Layer[] }).stack, req.path, methods);
    if (methods.size === 0) return next();
    if (methods.has('GET')) methods.add('HEAD');
    const allow = [...methods].sort().join(', ');
    res.setHeader('Allow', allow);
    sendError(res, 'method_not_allowed', `${req.method} is not allowed on ${req.path}; allowed: ${allow}`, req.id);
  };
}
