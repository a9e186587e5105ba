import { ReferenceBackend } from '../../src/tensor/reference.js';
import { backendSuite } from './suite.js';

backendSuite(() => new ReferenceBackend(), { name: 'reference' });
