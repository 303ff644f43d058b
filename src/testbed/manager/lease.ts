/**
 * The Manager guest's lease, as the stand-in holds it (the claim is `flexvdi-manager start`'s, see
 * scripts/flexvdi-manager.sh): a file `owner=<Host FQDN>` / `expires_ms=<epoch ms>` next to the disk image,
 * rewritten under `flock` on `<lease>.lock` — cluster-wide on OCFS2 (its DLM), and on the testbed the shared
 * folder is the same files on every Host. Renewal succeeds only while the file names this Host and has not
 * expired; the stand-in may serve until `started + ttl` of its last successful renewal (its own wall clock,
 * taken before the lock: never later than what the file says), and must stop once that passes.
 */
import { execFile } from 'node:child_process';

export interface LeaseOptions {
  file: string;
  owner: string;
  ttlMs: number;
}

export type RenewResult = { ok: true } | { ok: false; lost: boolean; reason: string };

/** $1 lease file, $2 owner, $3 ttl ms: renews when ours and live (prints the expiry), else exits 3. */
const RENEW = `f=$1 me=$2 ttl=$3 owner= expires=0
if [ -f "$f" ]; then
  while IFS='=' read -r k v || [ -n "$k" ]; do
    case $k in owner) owner=$v ;; expires_ms) expires=$v ;; esac
  done <"$f"
fi
now=$(date +%s%3N)
[ "$owner" = "$me" ] || { echo "the lease is held by \${owner:-nobody}"; exit 3; }
[ "$expires" -gt "$now" ] || { echo "the lease expired at $expires"; exit 3; }
printf 'owner=%s\\nexpires_ms=%s\\n' "$me" $((now + ttl)) >"$f.$$.tmp" && mv -f "$f.$$.tmp" "$f" || exit 1
echo $((now + ttl))`;

/** $1 lease file, $2 owner: removes the lease when it is ours. */
const RELEASE = `f=$1 me=$2 owner=
[ -f "$f" ] || exit 0
while IFS='=' read -r k v || [ -n "$k" ]; do [ "$k" = owner ] && owner=$v; done <"$f"
[ "$owner" != "$me" ] || rm -f "$f"`;

function underLock(o: LeaseOptions, script: string, args: string[], waitS: number) {
  return new Promise<{ code: number; out: string }>((resolve) => {
    execFile(
      'flock',
      ['-w', String(waitS), '-E', '75', `${o.file}.lock`, 'sh', '-c', script, 'lease', o.file, ...args],
      { timeout: (waitS + 5) * 1000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, out: `${stdout}${stderr}`.trim() });
      },
    );
  });
}

export class Lease {
  readonly #o: LeaseOptions;
  /** Wall-clock ms until which this process may serve (0: never renewed). */
  #validUntil = 0;

  constructor(o: LeaseOptions) {
    this.#o = o;
  }

  get owner(): string {
    return this.#o.owner;
  }

  /** True while the last successful renewal is younger than the lease time. */
  holds(now = Date.now()): boolean {
    return now < this.#validUntil;
  }

  async renew(): Promise<RenewResult> {
    const started = Date.now();
    if (this.#validUntil !== 0 && started >= this.#validUntil) {
      return { ok: false, lost: true, reason: 'the lease expired before it could be renewed' };
    }
    const waitS = Math.max(1, Math.floor(this.#o.ttlMs / 4000));
    const r = await underLock(this.#o, RENEW, [this.#o.owner, String(this.#o.ttlMs)], waitS);
    if (r.code === 0) {
      this.#validUntil = started + this.#o.ttlMs;
      return { ok: true };
    }
    if (r.code === 3) return { ok: false, lost: true, reason: r.out };
    // Lock busy or a write failed: keep serving until the lease runs out, try again on the next tick.
    return { ok: false, lost: false, reason: r.out || `flock exited ${r.code}` };
  }

  async release(): Promise<void> {
    this.#validUntil = 0;
    await underLock(this.#o, RELEASE, [this.#o.owner], 5);
  }
}
