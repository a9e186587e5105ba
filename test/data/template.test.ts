import { test } from 'node:test';
import assert from 'node:assert/strict';
import { alpacaPrompt, instructionText } from '../../src/data/template.js';

test('alpacaPrompt without input is the Stanford Alpaca template verbatim', () => {
  assert.equal(
    alpacaPrompt('Give three tips for staying healthy.'),
    'Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n' +
      '### Instruction:\nGive three tips for staying healthy.\n\n### Response:\n',
  );
  assert.equal(alpacaPrompt('Do it.', ''), alpacaPrompt('Do it.'));
});

test('alpacaPrompt with input is the Stanford Alpaca template verbatim', () => {
  assert.equal(
    alpacaPrompt('Translate to French.', 'Good morning'),
    'Below is an instruction that describes a task, paired with an input that provides further context. ' +
      'Write a response that appropriately completes the request.\n\n' +
      '### Instruction:\nTranslate to French.\n\n### Input:\nGood morning\n\n### Response:\n',
  );
});

test('instructionText joins a non-empty input with a blank line', () => {
  assert.equal(instructionText('Sort these.', '3, 1, 2'), 'Sort these.\n\n3, 1, 2');
  assert.equal(instructionText('Sort these.', ''), 'Sort these.');
  assert.equal(instructionText('Sort these.'), 'Sort these.');
});
