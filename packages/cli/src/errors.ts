/** What the user typed cannot run: a bad option, a missing profile, a broken profiles file. Exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The server answered with an error (the project's shape, or RFC 6749's on the token endpoint). Exit code 1. */
export class ApiError extends Error {
  override readonly name = 'ApiError';

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly requestId: string | undefined,
    /** A validation error's fields: `path: message`. */
    readonly details: readonly string[] = [],
  ) {
    super(message);
  }
}

/** The server could not be reached, or answered something that is not Portcullis. Exit code 1. */
export class ConnectionError extends Error {
  override readonly name = 'ConnectionError';
}
