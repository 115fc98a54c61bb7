import { UserError } from '../common/errors.ts';

export { UserError };

/** A failure that may go away when the call is repeated (network, overload, a stalled endpoint). */
export class TransientError extends UserError {}

/** Something did not match what the canister certified: nothing of it may be used. */
export class IntegrityError extends UserError {}

/** The canister cannot pay for the call: retrying does not help, topping it up does. */
export class OutOfCyclesError extends UserError {}

/** The caller is not a controller of the canister, and the call needs one. */
export class NotControllerError extends UserError {}

/** The canister id names no canister on the network: the id or the network is wrong, or it was never deployed there. */
export class CanisterNotFoundError extends UserError {}

/** The icboot canister refused the call itself (its trap "icboot: …"); the message is its reason. */
export class RefusedError extends UserError {}

/** A change was sent unsigned (the anonymous principal), which the canister never lets write or authorize. */
export class AnonymousCallerError extends UserError {}

/** The endpoint did not answer as an IC API endpoint does: the URL is wrong, or it briefly misrouted. */
export class EndpointError extends UserError {}

/** The network refused a request for its expiry time: this machine's clock is off. */
export class ClockError extends UserError {}
