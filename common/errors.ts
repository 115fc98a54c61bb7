/** An error whose message a user can act on; the CLI prints it as one line. */
export class UserError extends Error {}
