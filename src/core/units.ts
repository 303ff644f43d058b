/** Sizes in binary units for people (`3.8 GiB`, `512 MiB`, `2.0 GiB`): one place for every plugin. */

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'] as const;

/** `bytes` in the largest binary unit that keeps it ≥ 1: whole from 10 on (and for bytes), else one decimal. */
export function sizeText(bytes: number): string {
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v >= 10 || u === 0 ? Math.round(v) : v.toFixed(1)} ${UNITS[u]}`;
}
