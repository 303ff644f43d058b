/** Error codes of the testbed (namespaced like the core's ErrorCode; used with AppError). */
export const TestbedErrorCode = {
  /** A machine tool (ip, nsenter, ssh-keygen, …) failed. */
  tool: 'testbed.tool_failed',
  /** Not root, or a required program / kernel feature is missing. */
  prerequisite: 'testbed.prerequisite_missing',
  invalidOptions: 'testbed.invalid_options',
  /** `up` found a running testbed of that name with a different shape, or a name/subnet collision. */
  conflict: 'testbed.conflict',
  notRunning: 'testbed.not_running',
  unknownHost: 'testbed.unknown_host',
  /** A Host or the Manager stand-in did not come up. */
  startFailed: 'testbed.start_failed',
} as const;
