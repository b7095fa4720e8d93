/**
 * An error meant for the member who triggered it: its message is written for them and is shown as is
 * (ephemerally). Anything else that is thrown is logged, and the member gets a short generic answer.
 */
export class UserError extends Error {
  override readonly name = 'UserError';
}
