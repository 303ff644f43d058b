/** Error codes of the storage plugin (namespaced; none is retryable: each needs a person to look). */
export const StorageErrorCode = {
  /** A Host answered the device scan with something that is not its output (no header: another shell?). */
  devicesUnreadable: 'storage.devices_unreadable',

  // create-volume: plan refusals (decide-volume.ts).
  /** No OCFS2 cluster, or a target Host not a node, offline or drifted. */
  clusterNotReady: 'storage.cluster_not_ready',
  /** No target Host has a device by that id. */
  unknownDevice: 'storage.unknown_device',
  /** The device is not visible from every target Host, or not proven to be one device. */
  deviceNotShared: 'storage.device_not_shared',
  /** What is on the device, or its size, cannot be told. */
  deviceUnreadable: 'storage.device_unreadable',
  /** The device is mounted, or used by device-mapper / md. */
  deviceInUse: 'storage.device_in_use',
  /** Slots below the cluster's node count, or not the slots a volume already has. */
  slotsInvalid: 'storage.slots_invalid',
  /** mkfs.ocfs2 would not make the volume, or the journals would take too much of it. */
  deviceTooSmall: 'storage.device_too_small',
  /** The Manager already has an Image Storage or Volume by that name elsewhere. */
  nameTaken: 'storage.name_taken',

  // create-volume: run failures.
  /** The device changed between the plan and the format: nothing is formatted. */
  changedSincePlan: 'storage.changed_since_plan',
  /** The Host's fstab has another entry for the folder or the device. */
  fstabConflict: 'storage.fstab_conflict',
  /** mount ran but the volume is not mounted as planned. */
  mountFailed: 'storage.mount_failed',
  /** Reading back the superblock or the mounts did not give what was planned. */
  verifyFailed: 'storage.verify_failed',
} as const;
