/** Reading a testbed Host from inside it (its namespace, no SSH, not through the product). */
import { runOnHost } from '../../src/testbed/index.js';
import { quietLog } from '../testbed/helpers.js';

/**
 * Runs a script inside a Host; throws on a non-zero exit. Right after `testbed replace` the Host may not be
 * enterable for a moment: host-init prints "ready" just before it execs into the holder process that
 * runOnHost looks for.
 */
export async function onHost(
  tbName: string,
  host: string,
  script: string,
  params: string[] = [],
): Promise<string> {
  for (let i = 0; ; i++) {
    try {
      const r = await runOnHost({ name: tbName, host, log: quietLog }, script, params);
      if (r.code !== 0) throw new Error(`on ${host}: ${script}: exit ${r.code}: ${r.stderr}`);
      return r.stdout;
    } catch (err) {
      if ((err as { code?: string }).code !== 'testbed.not_running' || i >= 20) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** A file on a Host, read inside the Host (null when absent). */
export async function hostFile(tbName: string, host: string, file: string): Promise<string | null> {
  const out = await onHost(tbName, host, 'if [ -f "$1" ]; then cat "$1"; else printf @@absent; fi', [file]);
  return out === '@@absent' ? null : out;
}
