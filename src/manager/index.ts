/** The flexVDI Manager API client: what workers, the monitor and `doctor` use. */
export {
  createManagerClient,
  type ManagerClient,
  type ManagerClientOptions,
  type PingReport,
  type RegisterHostInput,
  type RegisterHostResult,
} from './client.js';
export { ManagerErrorCode, type ManagerErrorCodeValue } from './errors.js';
export {
  type HostInfo,
  type HostStatus,
  type HostSummary,
  hostStatuses,
  type ImageStorage,
  type ManagerDisk,
  type Registration,
  type Volume,
} from './schemas.js';
export {
  type ManagerTlsOptions,
  normalizeFingerprint,
  type PeerCertificate,
  type TlsMode,
} from './transport.js';
