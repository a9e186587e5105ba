/**
 * The one error type a user of loraroute sees for a mistake they can fix (a bad file, a bad config key,
 * a tensor of the wrong shape, a bad request). The message names the thing and what was expected.
 * Internal bugs stay plain `Error`s.
 */
export class LoraRouteError extends Error {
  constructor(message: string, readonly code: string = 'E_USER') {
    super(message);
    this.name = 'LoraRouteError';
  }
}

/** Throws a LoraRouteError naming `what` when `cond` is false. */
export function check(cond: unknown, message: string | (() => string), code = 'E_USER'): asserts cond {
  if (!cond) throw new LoraRouteError(typeof message === 'string' ? message : message(), code);
}
