/** Error codes of the registration plugin (namespaced; none is retryable: each needs a person to act). */
export const RegistrationErrorCode = {
  /** The pinned host key changed between the plan and the Confirm click (or during a resumed run). */
  hostkeyChanged: 'registration.hostkey_changed',
  /** The flexvdi user of a Host has no SSH key pair (~flexvdi/.ssh/id_*.pub). */
  noFlexvdiKey: 'registration.no_flexvdi_key',
  /** A Host→Host SSH connection with strict host key checking failed after the keys were distributed. */
  verifyFailed: 'registration.verify_failed',
  /** ~flexvdi/.ssh or a key file in it is a symlink: root does not write through links the user controls. */
  unsafeFiles: 'registration.unsafe_files',
  /** The Manager accepted the registration but does not list the Host. */
  notListed: 'registration.not_listed',
} as const;
