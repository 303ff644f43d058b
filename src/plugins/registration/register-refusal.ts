/**
 * Why register-host refuses a Host, in words for the plan: one sentence per refusal code of `decideRegister`
 * (decide.ts), with what to do. `register-host <host>` shows it as the plan's refusal; `register-host --all`
 * shows it beside each Host it leaves out.
 */
import type { InventoryHost } from '../../config.js';
import { type Md, md, prose } from '../../core/text.js';
import { ErrorCode } from '../../errors.js';
import type { RegisterDecision } from './decide.js';
import { RegistrationErrorCode } from './errors.js';
import { describeHostname } from './host-state.js';

/** A refusal of `decideRegister` (the bridges' refusal, with its differences, is rendered apart). */
export type RegisterRefusal = Exclude<
  Extract<RegisterDecision, { kind: 'refuse' }>,
  { code: 'registration.bridges_differ' }
>;

export function registerRefusal(
  d: RegisterRefusal,
  { host: h, id }: { host: InventoryHost; id: string },
): Md {
  switch (d.code) {
    case ErrorCode.inventoryUnknownHost:
      return prose(d.reason);
    case RegistrationErrorCode.unreachable:
      return md`${h.name} is not reachable over SSH: ${prose(d.error)}`;
    case RegistrationErrorCode.hostkeyMismatch:
      return md`The SSH host key of ${h.name} (${h.ip}) is not the pinned one: it presents ${d.fingerprint}. This can be an attack, or a reinstalled or replaced machine. If the Host was replaced on purpose, use \`/flexvdi replace-host ${h.fqdn}\`.`;
    case RegistrationErrorCode.managerKeyDiffers:
      return md`The Manager knows ${id} with another host key than the one ${h.name} presents (${d.fingerprint}): it is another machine. If it replaces a failed Host, use \`/flexvdi replace-host ${h.fqdn}\`.`;
    case RegistrationErrorCode.unreadable:
      return md`Cannot read ${h.name}: ${prose(d.error)}`;
    case RegistrationErrorCode.hostnameMismatch:
      return md`${h.ip} answers as ${describeHostname(d.state)}, not \`${h.fqdn}\`. Set the Host's name (or fix the address), then try again.`;
    case RegistrationErrorCode.noFlexvdiKey:
      return md`On ${h.name}, the user \`flexvdi\` ${d.userExists ? md`has no SSH key pair (~flexvdi/.ssh/id_*.pub)` : md`does not exist`}. Install the Host as flexVDI requires, then try again.`;
  }
}
