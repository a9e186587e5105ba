import { readdirSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { LoraRouteError } from '../errors.js';
import { missingTensor, openSafetensors, type SafetensorsFile } from './safetensors-file.js';
import { describeMissing, entryExists, quoteValue, readUserJson } from './user-file.js';
import type { TensorInfo, WeightSource } from './weights.js';

export const SINGLE_FILE = 'model.safetensors';
export const INDEX_FILE = 'model.safetensors.index.json';

/**
 * Opens the weights of a HF checkpoint as one name space:
 * - a directory with `model.safetensors`, or with `model.safetensors.index.json` and its shards;
 * - an explicit `.safetensors` file, or an explicit `*.index.json` file.
 */
export function openCheckpoint(path: string): WeightSource {
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) throw new LoraRouteError(`checkpoint path ${describeMissing(path)}`);
  if (!st.isDirectory()) {
    // a FIFO or device is refused by the reader, before it is opened
    return path.endsWith('.index.json') ? openShardedCheckpoint(path) : openSafetensors(path);
  }
  // entryExists: a dangling link is found here (and then named as one) rather than passed over
  const single = join(path, SINGLE_FILE);
  if (entryExists(single)) return openSafetensors(single);
  const index = join(path, INDEX_FILE);
  if (entryExists(index)) return openShardedCheckpoint(index);
  const found = readdirSync(path).filter((f) => f.endsWith('.safetensors') || f.endsWith('.index.json'));
  throw new LoraRouteError(
    `${path}: no weights found: looked for ${SINGLE_FILE} and ${INDEX_FILE}` +
      (found.length ? ` (found ${found.slice(0, 5).join(', ')}; pass the file path itself)` : ''),
  );
}

/** A sharded checkpoint: `weight_map` in the index says which shard holds each tensor. */
export class ShardedCheckpoint implements WeightSource {
  private readonly nameList: string[];

  constructor(readonly path: string, private readonly where: Map<string, SafetensorsFile>) {
    this.nameList = [...where.keys()].sort();
  }

  names(): string[] {
    return this.nameList.slice();
  }
  has(name: string): boolean {
    return this.where.has(name);
  }
  info(name: string): TensorInfo {
    return this.shard(name).info(name);
  }
  getF32(name: string): Float32Array {
    return this.shard(name).getF32(name);
  }
  getI32(name: string): Int32Array {
    return this.shard(name).getI32(name);
  }
  getRaw(name: string): Uint8Array {
    return this.shard(name).getRaw(name);
  }
  /** The shard files, sorted. */
  shardPaths(): string[] {
    return [...new Set([...this.where.values()].map((f) => f.path))].sort();
  }

  private shard(name: string): SafetensorsFile {
    const f = this.where.get(name);
    if (!f) throw missingTensor(this.path, name, this.nameList);
    return f;
  }
}

function openShardedCheckpoint(indexPath: string): ShardedCheckpoint {
  const json = readUserJson(indexPath, 'shard index');
  const map = (json as { weight_map?: unknown } | null)?.weight_map;
  if (map === null || typeof map !== 'object' || Array.isArray(map)) {
    throw new LoraRouteError(`${indexPath}: expected an object with "weight_map": {tensor name: shard file}`);
  }
  const dir = dirname(indexPath);
  const shards = new Map<string, SafetensorsFile>();
  const where = new Map<string, SafetensorsFile>();
  for (const [name, shardName] of Object.entries(map as Record<string, unknown>)) {
    if (typeof shardName !== 'string' || shardName === '') {
      throw new LoraRouteError(`${indexPath}: weight_map['${name}'] must be a shard file name, got ${quoteValue(shardName)}`);
    }
    let shard = shards.get(shardName);
    if (!shard) {
      const shardPath = resolve(dir, shardName);
      const rel = relative(dir, shardPath);
      if (rel === '' || rel === '..' || rel.startsWith('..' + sep) || isAbsolute(rel)) {
        throw new LoraRouteError(
          `${indexPath}: weight_map['${name}'] = ${quoteValue(shardName)} is outside the model folder ${dir}: shard names must be files inside it`,
        );
      }
      if (!entryExists(shardPath)) {
        throw new LoraRouteError(`${indexPath}: shard '${shardName}' (holding '${name}') is missing: ${describeMissing(shardPath)}`);
      }
      shard = openSafetensors(shardPath);
      shards.set(shardName, shard);
    }
    if (!shard.has(name)) {
      throw new LoraRouteError(`${indexPath}: weight_map puts '${name}' in shard '${shardName}', but ${shard.path} has no such tensor`);
    }
    where.set(name, shard);
  }
  return new ShardedCheckpoint(indexPath, where);
}
