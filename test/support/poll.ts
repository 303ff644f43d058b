/**
 * The one poller of the tests: waits on a condition, never on a clock. `check` is called until it gives a
 * value other than undefined, null or false (that value is returned); after `timeoutMs` it fails naming `what`.
 * Imports nothing that needs a server, so unit tests may use it too.
 */
export async function poll<T>(
  what: string,
  check: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  o: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const timeoutMs = o.timeoutMs ?? 20_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== null && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, o.intervalMs ?? 50));
  }
}
