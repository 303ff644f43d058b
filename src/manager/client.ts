/**
 * The product's client of the flexVDI Manager API (and of the testbed's stand-in, which speaks the same API).
 *
 * Each method is one Manager call over a fresh, certificate-checked connection (./transport.ts) inside a
 * cookie session that logs in again once on a 401 (./session.ts). Every failure is an AppError with a
 * `manager.*` code (./errors.ts): unreachable and http_error are retryable, the rest are not. Messages never
 * contain the password, the session id or a registration secret (which comes back wrapped in a Secret).
 */
import type { Logger } from 'pino';
import { Secret } from '../config.js';
import { type AppError, asAppError } from '../errors.js';
import {
  createdStorageWire,
  createdVolumeWire,
  type HostInfo,
  type HostSummary,
  hostInfoWire,
  hostSummaryWire,
  type ImageStorage,
  imageStorageWire,
  type ManagerDisk,
  managerDiskWire,
  resultWire,
  toHostInfo,
  toHostSummary,
  toImageStorage,
  toManagerDisk,
  toVolume,
  type Volume,
  volumeWire,
} from './schemas.js';
import { createSession } from './session.js';
import { createTransport, type ManagerTlsOptions, type PeerCertificate, type TlsMode } from './transport.js';

export interface ManagerClientOptions {
  url: string;
  username: string;
  /** Called at each login, so a rotated password file is picked up without a restart. */
  password: () => Secret;
  tls?: ManagerTlsOptions | undefined;
  /** Per request, connection included. */
  timeoutMs?: number | undefined;
  log: Logger;
}

export interface RegisterHostInput {
  /** The Host's FQDN, the same one the inventory lists (see src/testbed/manager/state.ts: host identity). */
  hostId: string;
  /** Public key of user `flexvdi` on the Host, one OpenSSH line. */
  sshPubkey: string;
  /** The Host's SSH host key, one OpenSSH line (`type base64`). */
  sshServerKey: string;
}

export interface RegisterHostResult {
  status: 'OK';
  /** The secret the Manager uses towards the Host's agent; prints as [redacted]. */
  message: Secret;
}

/** What `doctor` shows: how far the check got, and what it saw. Never throws. */
export interface PingReport {
  ok: boolean;
  url: string;
  reachable: boolean;
  tls: { mode: TlsMode } & PeerCertificate;
  authenticated: boolean;
  hostCount: number | null;
  error: AppError | null;
}

export interface ManagerClient {
  readonly url: string;
  listHosts(): Promise<HostSummary[]>;
  /** null when the Manager does not know the Host (404). */
  getHost(hostId: string): Promise<HostInfo | null>;
  /** Registers, re-registers (same server key: same secret) or records a replacement (new server key). */
  registerHost(input: RegisterHostInput): Promise<RegisterHostResult>;
  listImageStorages(): Promise<ImageStorage[]>;
  /** Idempotent: the same name, device and cluster again answers `created: false`. */
  createImageStorage(input: { name: string; device: string; cluster: string }): Promise<{
    created: boolean;
    imageStorage: ImageStorage;
  }>;
  listVolumes(): Promise<Volume[]>;
  createVolume(input: { name: string; imageStorage: string; sizeGb: number }): Promise<{
    created: boolean;
    volume: Volume;
  }>;
  getManagerDisk(): Promise<ManagerDisk>;
  ping(): Promise<PingReport>;
  /** Ends the session if there is one; best effort (failures are logged, not thrown). */
  logout(): Promise<void>;
}

export function createManagerClient(opts: ManagerClientOptions): ManagerClient {
  const log = opts.log.child({ component: 'manager-client' });
  const transport = createTransport({
    url: opts.url,
    tls: opts.tls,
    timeoutMs: opts.timeoutMs ?? 15_000,
    log,
  });
  const where = transport.url;
  const { call, send, failureOf, parseBody, ...session } = createSession({
    transport,
    username: opts.username,
    password: opts.password,
    log,
  });

  return {
    url: where,
    async listHosts() {
      return (await call('GET', '/hosts', hostSummaryWire.array(), 'the host list')).map(toHostSummary);
    },
    async getHost(hostId) {
      const what = `host ${hostId}`;
      const res = await send('GET', `/hosts/${encodeURIComponent(hostId)}`);
      if (res.status === 404) return null;
      const failure = failureOf(res, what);
      if (failure) throw failure;
      return toHostInfo(parseBody(res, hostInfoWire, what));
    },
    async registerHost(input) {
      const body = { host_id: input.hostId, ssh_pubkey: input.sshPubkey, ssh_serverkey: input.sshServerKey };
      const r = await call('POST', '/host/register', resultWire, `registration of ${input.hostId}`, body);
      return { status: 'OK', message: new Secret(r.message) };
    },
    async listImageStorages() {
      return (await call('GET', '/image-storages', imageStorageWire.array(), 'the Image Storage list')).map(
        toImageStorage,
      );
    },
    async createImageStorage(input) {
      const what = `creation of Image Storage ${input.name}`;
      const r = await call('POST', '/image-storage', createdStorageWire, what, input);
      return { created: r.message === 'created', imageStorage: toImageStorage(r.image_storage) };
    },
    async listVolumes() {
      return (await call('GET', '/volumes', volumeWire.array(), 'the Volume list')).map(toVolume);
    },
    async createVolume(input) {
      const body = { name: input.name, image_storage: input.imageStorage, size_gb: input.sizeGb };
      const r = await call('POST', '/volume', createdVolumeWire, `creation of Volume ${input.name}`, body);
      return { created: r.message === 'created', volume: toVolume(r.volume) };
    },
    async getManagerDisk() {
      return toManagerDisk(await call('GET', '/manager/disk', managerDiskWire, "the Manager's disk"));
    },
    async ping() {
      const report: PingReport = {
        ok: false,
        url: where,
        reachable: false,
        tls: { mode: transport.mode, fingerprint256: null, subject: null, validTo: null, verified: false },
        authenticated: false,
        hostCount: null,
        error: null,
      };
      try {
        Object.assign(report.tls, await transport.probe());
        report.reachable = true;
        await session.login();
        report.authenticated = true;
        report.hostCount = (await call('GET', '/hosts', hostSummaryWire.array(), 'the host list')).length;
        report.ok = true;
      } catch (err) {
        const e = asAppError(err);
        const peer = e.details?.['peer'] as PeerCertificate | undefined;
        if (peer) {
          report.reachable = true;
          Object.assign(report.tls, peer);
        }
        report.error = e;
      }
      return report;
    },
    logout: () => session.logout(),
  };
}
