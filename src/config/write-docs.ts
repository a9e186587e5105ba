/** `npm run docs:config`: writes docs/config.md from the schema. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderConfigDocs } from './docs.js';
import { packageRoot } from './paths.js';

const target = join(packageRoot(), 'docs', 'config.md');
writeFileSync(target, renderConfigDocs());
console.log(`wrote ${target}`);
