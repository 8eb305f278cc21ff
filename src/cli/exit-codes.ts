// pullguard's exit codes, one meaning each, so a CI step can tell a policy outcome from a broken call.

export const EXIT = {
  ok: 0,
  /** the command could not do its job: objects file unreadable, port in use, bad certificate… */
  failure: 1,
  /** the call was wrong: unknown flag, invalid setting, malformed input */
  usage: 2,
  /** `review --fail-on-deny` and the request was denied */
  denied: 3
} as const
