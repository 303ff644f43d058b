/**
 * What the Manager stand-in knows, kept in one JSON file (written atomically: temp file, fsync, rename; mode
 * 0600 because it holds the agents' secrets), so a restarted stand-in keeps its Hosts, storages and history.
 *
 * Host identity: `host_id` is the Host's FQDN, lower-cased (a single-label name like the docs' "flexdemo"
 * also passes). flexVDI replaces a failed Host by a new machine with the same domain name and IP, so the
 * replacement registers under the same id; a registration whose server key differs from the recorded one is
 * a replacement: new agent secret, heartbeat history reset, the old key kept in `registrations`.
 *
 * Status: fresh heartbeat (≤ failThresholdMs old) → the state the agent reported (running | stopped |
 * incompatible). No fresh heartbeat → `unknown` during a grace period of failThresholdMs after the
 * (re-)registration or the stand-in's start ("manager has just started and does not know yet"), then
 * `unavailable`, as the real Manager does after `fail_threshold`.
 */
import { randomUUID } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import { hostnameRe, shortNameRe } from '../../config.js';

export type AgentState = 'running' | 'stopped' | 'incompatible';
export type HostStatus = AgentState | 'unknown' | 'unavailable';

export interface RegistrationRecord {
  at: string;
  kind: 'new' | 'refresh' | 'replacement';
  ssh_serverkey: string;
}

export interface HostRecord {
  host_id: string;
  ssh_pubkey: string;
  ssh_serverkey: string;
  /** The agent secret handed out by /host/register. */
  secret: string;
  /** Time of the last registration that started a new machine (new or replacement). */
  registered_at: string;
  last_heartbeat: string | null;
  agent_state: AgentState;
  registrations: RegistrationRecord[];
}

export interface ImageStorageRecord {
  storage_id: string;
  name: string;
  device: string;
  cluster: string;
  created_at: string;
}

export interface VolumeRecord {
  volume_id: string;
  name: string;
  image_storage: string;
  size_gb: number;
  created_at: string;
}

export interface ManagerDiskRecord {
  path: string;
  on_shared_storage: boolean;
  image_storage: string | null;
  moved_at: string | null;
}

/**
 * What a Manager guest's disk image carries besides the state, so a moved image is the whole Manager: the
 * admin login (its password as a SHA-256 digest, never in clear), the TLS identity the inventory pins, and
 * the `fail_threshold` setting.
 */
export interface ImageIdentity {
  username: string;
  password_sha256: string;
  tls: { key: string; cert: string };
  fail_threshold_ms: number;
}

export interface StateFile {
  version: 1;
  hosts: Record<string, HostRecord>;
  image_storages: Record<string, ImageStorageRecord>;
  volumes: Record<string, VolumeRecord>;
  manager_disk: ManagerDiskRecord;
  /** Present in a Manager guest's disk image (testbed guest mode); absent in a standalone stand-in's state. */
  image?: ImageIdentity;
}

/** An answer the HTTP layer turns into `{status: "Error", message}` with this HTTP status. */
export class StandinError extends Error {
  constructor(
    readonly httpStatus: number,
    message: string,
  ) {
    super(message);
  }
}

/** Where the modelled Manager mounts Image Storages; not from flexVDI docs (the endpoint is not public). */
export const IMAGE_STORAGE_ROOT = '/var/lib/flexvdi/image-storages';
export const MANAGER_DISK_NAME = 'flexvdi-manager.img';
/** The Manager's disk image where a fresh install puts it: the first Host's local storage. */
export const LOCAL_MANAGER_DISK = `/var/lib/flexvdi/manager/${MANAGER_DISK_NAME}`;
/** The disk record of an image at `path`: on shared storage when under IMAGE_STORAGE_ROOT/<name>/. */
export function diskRecordAt(p: string, movedAt: string | null): ManagerDiskRecord {
  const m = new RegExp(`^${IMAGE_STORAGE_ROOT}/([^/]+)/`).exec(p);
  return { path: p, on_shared_storage: m !== null, image_storage: m?.[1] ?? null, moved_at: movedAt };
}
const initialDisk = (): ManagerDiskRecord => diskRecordAt(LOCAL_MANAGER_DISK, null);

/** A fresh Manager guest's disk image (the JSON text of its state file), as `testbed up` installs it. */
export function freshImageText(identity: ImageIdentity, diskPath = LOCAL_MANAGER_DISK): string {
  const state: StateFile = {
    version: 1,
    hosts: {},
    image_storages: {},
    volumes: {},
    manager_disk: diskRecordAt(diskPath, null),
    image: identity,
  };
  return `${JSON.stringify(state, null, 2)}\n`;
}

const sshKeyRe =
  /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(?:256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com) ([A-Za-z0-9+/]+={0,3})(?: [^\r\n]*)?$/;
/** `type base64`, without the comment: what identifies a key. */
function keyIdentity(line: unknown, field: string): string {
  const m = typeof line === 'string' ? sshKeyRe.exec(line.trim()) : null;
  if (!m)
    throw new StandinError(400, `${field} must be one OpenSSH public key line ("type base64 [comment]")`);
  return `${m[1]} ${m[2]}`;
}

const str = (v: unknown, field: string, re: RegExp, hint: string): string => {
  if (typeof v !== 'string' || !re.test(v)) throw new StandinError(400, `${field} ${hint}`);
  return v;
};

export class StandinStore {
  readonly #file: string;
  readonly #failThresholdMs: number;
  readonly #startedAt = Date.now();
  #state: StateFile;

  constructor(file: string, failThresholdMs: number) {
    this.#file = file;
    this.#failThresholdMs = failThresholdMs;
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    this.#state = existsSync(file) ? StandinStore.load(file) : this.#fresh();
  }

  static load(file: string): StateFile {
    const raw = JSON.parse(readFileSync(file, 'utf8')) as Partial<StateFile>;
    if (raw.version !== 1 || !raw.hosts || !raw.image_storages || !raw.volumes || !raw.manager_disk) {
      throw new Error(`${file}: not a Manager stand-in state file (version 1)`);
    }
    return raw as StateFile;
  }

  #fresh(): StateFile {
    return { version: 1, hosts: {}, image_storages: {}, volumes: {}, manager_disk: initialDisk() };
  }

  #save(): void {
    const tmp = `${this.#file}.${process.pid}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, `${JSON.stringify(this.#state, null, 2)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.#file);
  }

  statusOf(h: HostRecord, now = Date.now()): HostStatus {
    if (h.last_heartbeat && now - Date.parse(h.last_heartbeat) <= this.#failThresholdMs) return h.agent_state;
    const graceFrom = Math.max(Date.parse(h.registered_at), this.#startedAt);
    return now - graceFrom <= this.#failThresholdMs ? 'unknown' : 'unavailable';
  }

  listHosts() {
    return Object.values(this.#state.hosts).map((h) => ({
      host_id: h.host_id,
      status: this.statusOf(h),
      last_heartbeat: h.last_heartbeat,
    }));
  }

  getHost(id: string) {
    const h = this.#state.hosts[id.toLowerCase()];
    if (!h) throw new StandinError(404, `no Host with id ${JSON.stringify(id.slice(0, 260))}`);
    return {
      host_id: h.host_id,
      current_state: this.statusOf(h),
      error_msg: '',
      last_heartbeat: h.last_heartbeat,
      ssh_serverkey: h.ssh_serverkey,
      registrations: h.registrations,
    };
  }

  /** Returns the agent secret: unchanged for a refresh, new for a new Host or a replacement. */
  register(body: Record<string, unknown>): { kind: RegistrationRecord['kind']; secret: string } {
    const id = str(body['host_id'], 'host_id', hostnameRe, 'must be the Host FQDN').toLowerCase();
    const serverKey = keyIdentity(body['ssh_serverkey'], 'ssh_serverkey');
    keyIdentity(body['ssh_pubkey'], 'ssh_pubkey');
    const pubkey = (body['ssh_pubkey'] as string).trim();
    const at = new Date().toISOString();
    const prev = this.#state.hosts[id];
    let kind: RegistrationRecord['kind'];
    if (!prev) kind = 'new';
    else kind = prev.ssh_serverkey === serverKey ? 'refresh' : 'replacement';
    const fresh = kind !== 'refresh';
    const rec: HostRecord = {
      host_id: id,
      ssh_pubkey: pubkey,
      ssh_serverkey: serverKey,
      secret: fresh ? randomUUID() : prev!.secret,
      registered_at: fresh ? at : prev!.registered_at,
      last_heartbeat: fresh ? null : prev!.last_heartbeat,
      agent_state: fresh ? 'running' : prev!.agent_state,
      registrations: [...(prev?.registrations ?? []), { at, kind, ssh_serverkey: serverKey }],
    };
    this.#state.hosts[id] = rec;
    this.#save();
    return { kind, secret: rec.secret };
  }

  /** Records a heartbeat; false when no such Host is registered. */
  heartbeat(id: string, state: AgentState = 'running'): boolean {
    const h = this.#state.hosts[id.toLowerCase()];
    if (!h) return false;
    h.last_heartbeat = new Date().toISOString();
    h.agent_state = state;
    this.#save();
    return true;
  }

  listImageStorages(): ImageStorageRecord[] {
    return Object.values(this.#state.image_storages);
  }

  createImageStorage(body: Record<string, unknown>): { created: boolean; record: ImageStorageRecord } {
    const name = str(body['name'], 'name', shortNameRe, 'must be a short name: letters, digits and "-"');
    const device = str(body['device'], 'device', /^\/[^\s\0]{1,4095}$/, 'must be an absolute path');
    const cluster = str(body['cluster'], 'cluster', /^[0-9A-Za-z]{1,16}$/, 'must be an OCFS2 cluster name');
    const prev = this.#state.image_storages[name];
    if (prev) {
      if (prev.device === device && prev.cluster === cluster) return { created: false, record: prev };
      throw new StandinError(
        409,
        `Image Storage ${name} already exists on ${prev.device} (cluster ${prev.cluster})`,
      );
    }
    const other = this.listImageStorages().find((s) => s.device === device);
    if (other) throw new StandinError(409, `device ${device} already holds Image Storage ${other.name}`);
    const record = { storage_id: randomUUID(), name, device, cluster, created_at: new Date().toISOString() };
    this.#state.image_storages[name] = record;
    this.#save();
    return { created: true, record };
  }

  listVolumes(): VolumeRecord[] {
    return Object.values(this.#state.volumes);
  }

  createVolume(body: Record<string, unknown>): { created: boolean; record: VolumeRecord } {
    const name = str(body['name'], 'name', /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'must be a volume name');
    const storage = str(body['image_storage'], 'image_storage', shortNameRe, 'must be an Image Storage name');
    const size = body['size_gb'];
    if (typeof size !== 'number' || !(size > 0 && size <= 65_536)) {
      throw new StandinError(400, 'size_gb must be a number of GB between 0 and 65536');
    }
    if (!this.#state.image_storages[storage])
      throw new StandinError(404, `no Image Storage named ${storage}`);
    const prev = this.#state.volumes[name];
    if (prev) {
      if (prev.image_storage === storage && prev.size_gb === size) return { created: false, record: prev };
      throw new StandinError(
        409,
        `Volume ${name} already exists (${prev.size_gb} GB on ${prev.image_storage})`,
      );
    }
    const record = {
      volume_id: randomUUID(),
      name,
      image_storage: storage,
      size_gb: size,
      created_at: new Date().toISOString(),
    };
    this.#state.volumes[name] = record;
    this.#save();
    return { created: true, record };
  }

  managerDisk(): ManagerDiskRecord {
    return this.#state.manager_disk;
  }

  /**
   * A guest started from its image at `diskPath` (as the Host sees it): when that is not where the image was
   * last run from, it was moved — recorded with the time this start noticed it.
   */
  runningFrom(diskPath: string): void {
    if (this.#state.manager_disk.path === diskPath) return;
    this.#state.manager_disk = diskRecordAt(diskPath, new Date().toISOString());
    this.#save();
  }
}
