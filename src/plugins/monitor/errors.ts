/** Error codes of the monitor plugin (namespaced; none is retryable: each needs a person to act). */
export const MonitorErrorCode = {
  /** A maintenance window's end passed before the plan was confirmed: nothing was set. */
  windowPassed: 'monitor.window_passed',
} as const;
