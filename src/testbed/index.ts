/** The testbed's programmatic API: for the CLI, the demo, and other parts' tests (a test-scoped testbed). */
export { type TestbedCliDeps, testbedCli } from './cli.js';
export { runOnHost, type TestbedRef } from './context.js';
export { type TestbedDownResult, testbedDown } from './down.js';
export { TestbedErrorCode } from './errors.js';
export {
  describeFaultOptions,
  type FaultOptions,
  JITTER_DEFAULTS,
  type JitterOptions,
  parseFaultOptions,
  SLOW_DEFAULTS,
  type SlowOptions,
} from './fault-options.js';
export {
  type FailHostOptions,
  failHost,
  type HostFaultOptions,
  healHost,
  type ReplaceResult,
  replaceHost,
} from './faults.js';
export { HOST_BRIDGES, O2CB_DEFAULTS, ODD_HOST_BRIDGES } from './host-files.js';
export { SLACK_ADMIN, SLACK_ALERT_CHANNEL, SLACK_CHANNEL } from './inventory.js';
export { diskPaths, TESTBED_DOMAIN } from './layout.js';
export { FAULT_MODES, type FaultMode } from './state.js';
export { type HostStatus, listTestbeds, type TestbedStatus, testbedStatus } from './status.js';
export { type TestbedInfo, type TestbedUpOptions, testbedUp } from './up.js';
