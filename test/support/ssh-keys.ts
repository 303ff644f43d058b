/** Test SSH public keys: valid ed25519 framing (what the key-file code checks), the key bytes all `seed`. */
export function keyBlob(seed: number): string {
  const u32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    return b;
  };
  const t = Buffer.from('ssh-ed25519');
  return Buffer.concat([u32(t.length), t, u32(32), Buffer.alloc(32, seed)]).toString('base64');
}

/**
 * What the registration plugin's inspection script prints for a Host `name` at `ip` (base64, as it arrives):
 * its flexvdi key `keyBlob(seed)`, no key files, and its bridges (none, or one at `addr`).
 */
export function inspectionOutput(
  name: string,
  ip: string,
  seed: number,
  bridge?: { name: string; addr: string },
): string {
  const field = (f: string, v: string | null) =>
    v === null ? `${f} -\n` : `${f} ${Buffer.byteLength(v)}\n${v}\n`;
  const eth0 = `2: eth0    inet ${ip}/24 brd 10.0.0.255 scope global eth0\n`;
  return Buffer.from(
    [
      field('hostname', `${name}.example.com`),
      field('fqdn', `${name}.example.com`),
      field('home', '/home/flexvdi'),
      field('flexvdi_pub', `ssh-ed25519 ${keyBlob(seed)} flexvdi@${name}\n`),
      field('authorized_keys', null),
      field('user_known_hosts', null),
      field('known_hosts', null),
      field('links', ''),
      field('bridges', bridge?.name ?? ''),
      field(
        'addr',
        bridge ? `${eth0}5: ${bridge.name}    inet ${bridge.addr} scope global ${bridge.name}\n` : eth0,
      ),
    ].join(''),
  ).toString('base64');
}
