/** What only the core tests read: the test plugin's step trace (test/support/test-plugin.ts) in real Redis. */
import type { Stack } from '../support/harness.js';

/** Trace entries of one job (`<jobId>:<step>:<start|done|aborted>`), in order. */
export async function traceOf(s: Stack, jobId: string): Promise<string[]> {
  return (await s.trace()).filter((t) => t.startsWith(`${jobId}:`)).map((t) => t.slice(jobId.length + 1));
}
