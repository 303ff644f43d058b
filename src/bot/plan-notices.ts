/**
 * What the bot tells someone who clicks a plan's button they may not use, or one already used. Users are
 * named with `mention` (a real Slack user id pings; anything else is shown as escaped text), never by
 * building `<@…>` by hand. Pure.
 */
import { type Md, md, mention } from '../core/text.js';

/** `Only <@U1> (who asked) or a flexVDI admin can confirm this plan.` (no requester known: admins only). */
export const onlyRequesterOrAdmin = (requester: string | undefined, verb: string): Md =>
  md`Only ${requester === undefined ? md`` : md`${mention(requester)} (who asked) or `}a flexVDI admin can ${verb} this plan.`;

/** A plan whose button was already used: confirmed (with its job), replaced by an edited plan, or cancelled. */
export function alreadyUsed(claim: { by: string; outcome: string; jobId: string }): Md {
  const by = mention(claim.by);
  if (claim.outcome === 'confirmed')
    return md`Already confirmed by ${by}: job \`${claim.jobId}\`. \`/flexvdi job ${claim.jobId}\` shows it.`;
  if (claim.outcome === 'edited')
    return md`This plan was replaced by an edited one (by ${by}); nothing was run. Use the buttons on the new plan message.`;
  return md`This plan was already cancelled by ${by}.`;
}
