// How the outbox reads to an operator: one line of counts, a pass's summary, a learner's messages.
import type { MessageCounts, OutboxMessage } from "./outbox";
import type { NotifyReport } from "./run";

/** `e-mails: 3 due, 1 scheduled, 0 failing, 12 sent, 0 given up, 0 undeliverable, 2 skipped`, and what stops them. */
export function renderCounts(c: MessageCounts, smtp: boolean): string {
  const line = `e-mails: ${c.due} due, ${c.later} scheduled, ${c.failing} failing, ${c.sent} sent, ${c.givenUp} given up, ${c.undeliverable} undeliverable, ${c.skipped} skipped`;
  return smtp ? line : `${line} (wod:smtp is not set: nothing is sent, messages wait)`;
}

export function renderPass(r: NotifyReport, smtp: boolean): string {
  const lines: string[] = [];
  if (r.wouldSend !== undefined) lines.push(`notify (dry run): ${r.wouldSend} would be sent, nothing was sent or changed`);
  else if (r.noSmtp) lines.push("notify: wod:smtp is not set: nothing sent, messages wait (see README, E-mails to learners)");
  else lines.push(`notify: ${r.sent} sent, ${r.failed} failed (retried later), ${r.givenUp} given up, ${r.undeliverable} undeliverable, ${r.skipped} skipped, ${r.waiting} waiting`);
  if (r.serverDown) lines.push(`notify: stopped: ${r.serverDown}; the messages wait and are sent once it is back`);
  lines.push(renderCounts(r.counts, smtp));
  return lines.join("\n");
}

export function renderMessages(list: OutboxMessage[]): string {
  if (list.length === 0) return "no messages";
  return list
    .map((m) => {
      const when = m.sentAt ? `sent ${m.sentAt.toISOString()}` : `due ${m.dueAt.toISOString()}${m.retryAt ? `, next try ${m.retryAt.toISOString()}` : ""}`;
      const who = m.registrationId ? `registration ${m.registrationId}` : `learner ${m.learnerId}`;
      return `${m.id}  ${m.kind.padEnd(22)} ${m.state.padEnd(13)} ${who}  to ${m.recipient}  ${when}  tries ${m.attempts}${m.lastError ? `\n      ${m.lastError}` : ""}`;
    })
    .join("\n");
}
