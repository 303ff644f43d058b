/** Error codes of the storage plugin (namespaced; none is retryable: each needs a person to look). */
export const StorageErrorCode = {
  /** A Host answered the device scan with something that is not its output (no header: another shell?). */
  devicesUnreadable: 'storage.devices_unreadable',
} as const;
