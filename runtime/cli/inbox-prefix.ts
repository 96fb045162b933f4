import { DEFAULT_SUBJECT_PREFIX, Subjects } from "../subjects.js";

/**
 * The request inbox prefix of a CLI process of `system`: inside the system's own subjects
 * (`<prefix>.<system>._INBOX`), so one permission, `<prefix>.<system>.>`, covers everything a node does,
 * lookups' answers included. `NATS_INBOX_PREFIX` overrides it.
 */
export function systemInboxPrefix(system: string): string {
  return process.env.NATS_INBOX_PREFIX || `${new Subjects(DEFAULT_SUBJECT_PREFIX, system).root}._INBOX`;
}
