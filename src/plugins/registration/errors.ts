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

  // Plan refusals (decide.ts): why a plan offers no Confirm.
  /** Nothing answers SSH on the Host's address. */
  unreachable: 'registration.unreachable',
  /** The Host presents another host key than the one pinned for it (register-host). */
  hostkeyMismatch: 'registration.hostkey_mismatch',
  /** The Manager knows the Host with another host key than the one it presents (register-host). */
  managerKeyDiffers: 'registration.manager_key_differs',
  /** The Host answered SSH but could not be read. */
  unreadable: 'registration.unreadable',
  /** The Host does not answer as the FQDN of its inventory entry. */
  hostnameMismatch: 'registration.hostname_mismatch',
  /** The Host's bridges differ from a registered Host's. */
  bridgesDiffer: 'registration.bridges_differ',
  /** replace-host: the Manager does not know the Host, so there is nothing to replace. */
  notRegistered: 'registration.not_registered',
  /** replace-host: the IP given is not the failed Host's. */
  ipDiffers: 'registration.ip_differs',
  /** replace-host: the machine answering does not carry the failed Host's IP. */
  ipNotCarried: 'registration.ip_not_carried',
  /** replace-host: the old Host still answers (its pinned key, or heartbeats) and `--force` was not given. */
  hostAlive: 'registration.host_alive',
  /** replace-host: `--force` by someone who is not a flexVDI admin. */
  forceNeedsAdmin: 'registration.force_needs_admin',
  /** register-host --all: no Host that is not registered yet can be registered now (each one says why). */
  noneRegistrable: 'registration.none_registrable',
  /** register-host --all: the new Hosts' bridges differ among themselves and no registered Host answered. */
  bridgesDisagree: 'registration.bridges_disagree',
} as const;

export type RegistrationErrorCodeValue = (typeof RegistrationErrorCode)[keyof typeof RegistrationErrorCode];
