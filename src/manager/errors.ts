/**
 * Error codes of the Manager client. The four shared ones live in src/errors.ts (`ErrorCode.manager*`); the two
 * below are this module's own. Neither is retryable: a certificate that does not match the pin, or a request
 * the Manager refuses (4xx / `{"status":"Error"}`), will not fix itself by trying again.
 */
import { ErrorCode } from '../errors.js';

export const ManagerErrorCode = {
  unreachable: ErrorCode.managerUnreachable,
  authFailed: ErrorCode.managerAuth,
  httpError: ErrorCode.managerHttp,
  badResponse: ErrorCode.managerBadResponse,
  /** The certificate does not match the pinned fingerprint, the CA file, or the system roots. */
  tlsMismatch: 'manager.tls_mismatch',
  /** The Manager understood the request and refused it (4xx other than 401, or `status: "Error"`). */
  rejected: 'manager.rejected',
} as const;

export type ManagerErrorCodeValue = (typeof ManagerErrorCode)[keyof typeof ManagerErrorCode];
