/** GPT-2 byte-level BPE tokenizer. */
export { GPT2Tokenizer, type EncodeOptions, type DecodeOptions } from './gpt2.js';
export { StreamDecoder } from './stream.js';
export { GPT2_PATTERN, pretokenize } from './pretokenize.js';
