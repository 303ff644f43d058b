/**
 * The Manager's wire format (snake_case JSON, as in the public flexVDI 3.1 API docs) validated with zod, and the
 * camelCase shapes the rest of the program sees. Unknown fields are dropped, so a newer Manager that adds
 * fields still parses.
 *
 * Public endpoints: /authenticate, /logout, /hosts, /hosts/{id}, /host/register. The docs list only `host_id`
 * and `status` for /hosts; `last_heartbeat`, `ssh_serverkey` and `registrations` are stand-in extras and are
 * optional here (null from the real Manager).
 *
 * NOT public (modelled in the same style, to be checked against a real Manager): /image-storages,
 * /image-storage, /volumes, /volume, /manager/disk. (The Manager's disk is moved through the Hosts, not the API.)
 */
import { z } from 'zod';

export const hostStatuses = ['running', 'stopped', 'unknown', 'unavailable', 'incompatible'] as const;
export type HostStatus = (typeof hostStatuses)[number];

const isoOrNull = z.string().datetime({ offset: true }).nullable().optional();

/** Every Manager answer that is not a list or a record: `{status: "OK"|"Error", message}`. */
export const resultWire = z.object({ status: z.enum(['OK', 'Error']), message: z.string() });

export const hostSummaryWire = z.object({
  host_id: z.string().min(1),
  status: z.enum(hostStatuses),
  last_heartbeat: isoOrNull,
});

export const registrationWire = z.object({
  at: z.string().datetime({ offset: true }),
  kind: z.enum(['new', 'refresh', 'replacement']),
  ssh_serverkey: z.string(),
});

export const hostInfoWire = z.object({
  host_id: z.string().min(1),
  current_state: z.enum(hostStatuses),
  desired_state: z.enum(['running', 'stopped']).optional(),
  error_msg: z.string().nullable().optional(),
  last_heartbeat: isoOrNull,
  ssh_serverkey: z.string().nullable().optional(),
  registrations: z.array(registrationWire).optional(),
});

export const imageStorageWire = z.object({
  storage_id: z.string().min(1),
  name: z.string().min(1),
  device: z.string().min(1),
  cluster: z.string().min(1),
  created_at: z.string().datetime({ offset: true }),
});

export const volumeWire = z.object({
  volume_id: z.string().min(1),
  name: z.string().min(1),
  image_storage: z.string().min(1),
  size_gb: z.number().positive(),
  created_at: z.string().datetime({ offset: true }),
});

export const managerDiskWire = z.object({
  path: z.string().min(1),
  on_shared_storage: z.boolean(),
  image_storage: z.string().nullable().optional(),
  moved_at: isoOrNull,
  /** FQDN of the Host whose guest the Manager is (stand-in extra; absent from a Manager that does not say). */
  running_on: z.string().nullable().optional(),
});

export const createdStorageWire = resultWire.extend({ image_storage: imageStorageWire });
export const createdVolumeWire = resultWire.extend({ volume: volumeWire });

export interface HostSummary {
  hostId: string;
  status: HostStatus;
  /** ISO time of the last heartbeat the Manager saw; null when unknown (the real Manager does not say). */
  lastHeartbeat: string | null;
}

export interface Registration {
  at: string;
  /** new: first time; refresh: same server key again (idempotent); replacement: same id, new server key. */
  kind: 'new' | 'refresh' | 'replacement';
  sshServerKey: string;
}

export interface HostInfo extends HostSummary {
  desiredState: 'running' | 'stopped' | null;
  errorMsg: string | null;
  sshServerKey: string | null;
  /** Oldest first; null when the Manager does not report it (only the stand-in does). */
  registrations: Registration[] | null;
}

export interface ImageStorage {
  storageId: string;
  name: string;
  device: string;
  cluster: string;
  createdAt: string;
}

export interface Volume {
  volumeId: string;
  name: string;
  imageStorage: string;
  sizeGb: number;
  createdAt: string;
}

export interface ManagerDisk {
  path: string;
  onSharedStorage: boolean;
  imageStorage: string | null;
  movedAt: string | null;
  /** The Host the Manager runs on, when the Manager says (null: standalone or not said). */
  runningOn?: string | null;
}

export const toHostSummary = (h: z.infer<typeof hostSummaryWire>): HostSummary => ({
  hostId: h.host_id,
  status: h.status,
  lastHeartbeat: h.last_heartbeat ?? null,
});

export const toHostInfo = (h: z.infer<typeof hostInfoWire>): HostInfo => ({
  hostId: h.host_id,
  status: h.current_state,
  lastHeartbeat: h.last_heartbeat ?? null,
  desiredState: h.desired_state ?? null,
  errorMsg: h.error_msg ?? null,
  sshServerKey: h.ssh_serverkey ?? null,
  registrations:
    h.registrations?.map((r) => ({ at: r.at, kind: r.kind, sshServerKey: r.ssh_serverkey })) ?? null,
});

export const toImageStorage = (s: z.infer<typeof imageStorageWire>): ImageStorage => ({
  storageId: s.storage_id,
  name: s.name,
  device: s.device,
  cluster: s.cluster,
  createdAt: s.created_at,
});

export const toVolume = (v: z.infer<typeof volumeWire>): Volume => ({
  volumeId: v.volume_id,
  name: v.name,
  imageStorage: v.image_storage,
  sizeGb: v.size_gb,
  createdAt: v.created_at,
});

export const toManagerDisk = (d: z.infer<typeof managerDiskWire>): ManagerDisk => ({
  path: d.path,
  onSharedStorage: d.on_shared_storage,
  imageStorage: d.image_storage ?? null,
  movedAt: d.moved_at ?? null,
  runningOn: d.running_on ?? null,
});
