/** Safetensors reading and writing, and HF checkpoint folders (single file or sharded). */
export { SafetensorsFile, openSafetensors, parseSafetensors } from './safetensors-file.js';
export { writeSafetensors, serializeSafetensors, type TensorToWrite, type WritableDtype } from './safetensors-write.js';
export { openCheckpoint, ShardedCheckpoint, SINGLE_FILE, INDEX_FILE } from './checkpoint.js';
export type { TensorInfo, WeightSource } from './weights.js';
