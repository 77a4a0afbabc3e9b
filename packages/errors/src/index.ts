export { ERROR_STATUS, isErrorCode, statusOf } from './codes.js';
export type { ErrorCode } from './codes.js';
export { HttpError, errorBody, oauthErrorBody } from './problem.js';
export type { ErrorBody, ErrorDetail, OAuthErrorBody } from './problem.js';
export { createHttpServer, hostCountProblem, hostProblem, sendOnSocket } from './protocol.js';
export type { ErrorRenderer, ErrorResponse } from './protocol.js';
