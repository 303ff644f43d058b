export { commandFailedError, describeTarget, SshErrorCode } from './errors.js';
export { type FanoutOptions, type FanoutResult, fanout } from './fanout.js';
export { openClient } from './handshake.js';
export { DEFAULT_HOST_KEY_ALGORITHMS, pinNames } from './host-key-policy.js';
export {
  algorithmsForKeyType,
  checkHostKey,
  decodeKey,
  entryMatchesHost,
  fingerprintSha256,
  hashHostName,
  hostPatternFor,
  type KnownHostsEntry,
  type KnownHostsMarker,
  keyTypeOf,
  lookupPins,
  type ParsedKnownHosts,
  type PinVerdict,
  parseKnownHosts,
} from './known-hosts.js';
export {
  backupStamp,
  type HostKey,
  type PinResult,
  pinHostKey,
  type ReplaceResult,
  readKnownHosts,
  replacePin,
} from './known-hosts-file.js';
export { createSshPool, loadKey } from './pool.js';
export { shellJoin, shellQuote } from './shell-quote.js';
export type {
  ConnectionStats,
  ExecOptions,
  ExecResult,
  HostKeyProbe,
  SshPool,
  SshPoolOptions,
  SshTarget,
  WriteFileOptions,
  WriteFileResult,
} from './types.js';
