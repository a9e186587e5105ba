import type { Backend } from './backend.js';
import { ReferenceBackend } from './reference.js';
import { LoraRouteError } from '../errors.js';
import { loadNativeBackend } from './native.js';

export type BackendName = 'auto' | 'native' | 'reference';

let warnedSlow = false;

/**
 * Chooses a compute backend. 'auto' takes the native one when its addon loaded, else the reference one
 * (saying once that it is slower); 'native' insists on the addon.
 */
export function getBackend(name: BackendName = 'auto', warn: (msg: string) => void = (m) => console.warn(m)): Backend {
  if (name !== 'auto' && name !== 'native' && name !== 'reference') {
    throw new LoraRouteError(`unknown backend "${String(name)}": expected auto, native or reference`);
  }
  if (name === 'reference') return new ReferenceBackend();
  const native = loadNativeBackend();
  if (native) return native;
  if (name === 'native') {
    throw new LoraRouteError(
      'backend "native" was requested but the native addon is not available (build it with `npm rebuild loraroute` ' +
        'after `apt-get install -y libopenblas-dev g++ make python3`), or use --backend reference',
    );
  }
  if (!warnedSlow) {
    warnedSlow = true;
    warn('loraroute: native CPU backend unavailable; using the TypeScript reference backend (much slower)');
  }
  return new ReferenceBackend();
}
