import { LoraRouteError } from '../errors.js';

/**
 * Refuses a tensor read from `file` that holds NaN or ±Inf (weights like that make every output garbage,
 * e.g. a stream of `!!!!`): the message names the file, the tensor, the first bad element and how many.
 */
export function assertFinite(data: Float32Array, file: string, tensor: string): void {
  let first = -1;
  let bad = 0;
  for (let i = 0; i < data.length; i++) {
    // x - x is 0 for finite x and NaN for NaN and ±Inf
    if (data[i]! - data[i]! !== 0) {
      if (first < 0) first = i;
      bad++;
    }
  }
  if (bad > 0) {
    throw new LoraRouteError(
      `${file}: tensor '${tensor}' is not finite: ${bad} of ${data.length} values are NaN or Inf (first at element ${first}: ${data[first]})`,
    );
  }
}
