/** An error whose message a user can act on; the CLI prints it as one line. */
export class UserError extends Error {}

/** A failure that may go away when the call is repeated (network, overload). */
export class TransientError extends UserError {}
