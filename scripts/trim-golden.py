#!/usr/bin/env python3
"""Copies the slices of a golden fixture set (made by ../shared/tools/gen_golden.py) that the tests use into
test/fixtures/<name>/, keeping the repo small: logits keep every STRIDE-th vocabulary column (the full rows are
still checked through the losses); gradients, the batch and the merged weight are kept whole.
Needs only numpy.  Usage: python3 scripts/trim-golden.py SRC_DIR DST_DIR [STRIDE]"""
import json, os, shutil, struct, sys
import numpy as np

src, dst = sys.argv[1], sys.argv[2]
stride = int(sys.argv[3]) if len(sys.argv) > 3 else 25
DT = {'F32': np.float32, 'I32': np.int32, 'I64': np.int64}

def read(path):
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for k, v in header.items():
        if k == '__metadata__':
            continue
        a, b = v['data_offsets']
        out[k] = np.frombuffer(data[a:b], dtype=DT[v['dtype']]).reshape(v['shape'])
    return out

def write(path, tensors, meta):
    header, blobs, off = {'__metadata__': meta}, [], 0
    for k in sorted(tensors):
        a = np.ascontiguousarray(tensors[k])
        dt = {np.dtype(np.float32): 'F32', np.dtype(np.int32): 'I32'}[a.dtype]
        header[k] = {'dtype': dt, 'shape': list(a.shape), 'data_offsets': [off, off + a.nbytes]}
        blobs.append(a.tobytes()); off += a.nbytes
    h = json.dumps(header, separators=(',', ':')).encode()
    h += b' ' * ((8 - len(h) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h))); f.write(h)
        for b in blobs: f.write(b)

t = read(os.path.join(src, 'tensors.safetensors'))
keep = {}
for k, v in t.items():
    if '.logits.' in k:
        keep[k.replace('.logits.', '.logits_strided.')] = v[:, ::stride]
    else:
        keep[k] = v
os.makedirs(dst, exist_ok=True)
write(os.path.join(dst, 'tensors.safetensors'), keep, {'format': 'pt', 'logits_stride': str(stride)})
shutil.copy(os.path.join(src, 'meta.json'), os.path.join(dst, 'meta.json'))
if os.path.isdir(os.path.join(src, 'adapter')):
    shutil.copytree(os.path.join(src, 'adapter'), os.path.join(dst, 'adapter'), dirs_exist_ok=True)
print('wrote', dst, sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(dst) for f in fs), 'bytes')
