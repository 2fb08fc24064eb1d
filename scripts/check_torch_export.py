#!/usr/bin/python3
# Checks `kiln export-torch` against PyTorch and writes the fixtures test/export.test.ts and
# test/export.gpu.test.ts read (they need no PyTorch). For the cae preset, the classifier preset
# and a spec that uses every layer type and activation (test/fixtures/export_layers.json, written
# from SPEC below):
#   1. Kiln trains 3 steps on the embedded sample and saves its weights (`kiln train --save`);
#   2. `kiln export-torch` prints the module; it is executed here, and build()'s state_dict must
#      have exactly the names, shapes and dtypes of Kiln's file, which loads with strict=True;
#   3. the module runs in evaluation mode on a fixed batch (one held-out sample image per class).
# Fixtures: export_batch.safetensors (the batch: images_u8 and labels), and per model
# export_<name>.py (the printed file, byte for byte), export_<name>.weights.safetensors (Kiln's
# --save file, as written) and export_<name>.safetensors (PyTorch's eval-mode `output`).
#
# Run by hand from the repository root (Debian's python3-torch and Node; about a minute):
#
#     /usr/bin/python3 scripts/check_torch_export.py
#
# `--verify` only checks the committed fixtures against this machine's PyTorch (no Node, no writes):
# each export_<name>.py loads its weights strictly and gives the stored outputs within
# 1e-4 + 1e-4·|ref|, on the GPU when PyTorch sees one (TF32 off), else on the CPU.
import json
import os
import shutil
import subprocess
import sys
import tempfile
import types

import torch

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
FIXTURES = os.path.join(ROOT, 'test', 'fixtures')
TEST_BIN = os.path.join(ROOT, 'data', 'sample_test.bin')
MAX_BYTES = 200_000

# Every layer type (conv2d with dilation and groups, convtranspose2d, both pools, upsample, batchnorm,
# dropout, flatten, linear) and every activation, with dotted names (nested nn.Sequentials), plain
# names and one default (index) name; trained with BCE on one-hot labels of the sample's 6 classes.
# The second batchnorm keeps a cumulative average (momentum None), so after Kiln's 3 steps it
# normalises for real: without it the default init shrinks the signal layer by layer until the
# early layers move the outputs by less than the tests' tolerance.
SPEC = {'input': [3, 32, 32], 'loss': 'bce', 'target': 'label', 'layers': [
    {'name': 'stem.conv', 'type': 'conv2d', 'out': 8, 'kernel': 3, 'stride': 2, 'padding': 2, 'dilation': 2, 'bias': False},
    {'name': 'stem.bn', 'type': 'batchnorm2d'},
    {'name': 'stem.act', 'type': 'relu'},
    {'name': 'dw', 'type': 'conv2d', 'out': 8, 'kernel': 3, 'padding': 1, 'groups': 8},
    {'name': 'dw_act', 'type': 'gelu'},
    {'name': 'pool', 'type': 'maxpool2d', 'kernel': 2},
    {'name': 'up', 'type': 'convtranspose2d', 'out': 8, 'kernel': 2, 'stride': 2, 'groups': 2},
    {'name': 'up_act', 'type': 'leakyrelu', 'slope': 0.1},
    {'name': 'avg', 'type': 'avgpool2d', 'kernel': 3, 'stride': 2, 'padding': 1, 'countIncludePad': False},
    {'name': 'avg_act', 'type': 'tanh'},
    {'name': 'ups', 'type': 'upsample', 'scale': 2},
    {'name': 'c2', 'type': 'conv2d', 'out': 4, 'kernel': 3, 'stride': 4, 'padding': 1},
    {'name': 'c2_bn', 'type': 'batchnorm2d', 'momentum': None},
    {'name': 'c2_act', 'type': 'selu'},
    {'type': 'flatten'},
    {'name': 'drop', 'type': 'dropout', 'p': 0.25},
    {'name': 'head.0', 'type': 'linear', 'out': 16},
    {'name': 'head.1', 'type': 'relu'},
    {'name': 'head.2', 'type': 'linear', 'out': 6},
    {'name': 'head.3', 'type': 'sigmoid'},
]}

# name → (--model argument, extra export-torch flags)
MODELS = [
    ('cae', 'cae', []),
    ('classifier', 'classifier', ['--classes', '6']),  # the sample has 6 classes
    ('layers', 'test/fixtures/export_layers.json', []),
]


def kiln(args, env):
    r = subprocess.run(['node', 'bin/kiln.mjs', *args], cwd=ROOT, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f'kiln {" ".join(args)} failed ({r.returncode}): {r.stderr.strip()}')
    return r.stdout


def read_safetensors(path):
    """(tensors, metadata); F32 and I64 as torch tensors of those dtypes."""
    with open(path, 'rb') as f:
        raw = f.read()
    n = int.from_bytes(raw[:8], 'little')
    header = json.loads(raw[8:8 + n])
    meta = header.pop('__metadata__', {})
    data = raw[8 + n:]
    dtypes = {'F32': torch.float32, 'I64': torch.int64}
    tensors = {}
    for name, h in header.items():
        a, b = h['data_offsets']
        t = torch.frombuffer(bytearray(data[a:b]), dtype=dtypes[h['dtype']]) if b > a else torch.empty(0, dtype=dtypes[h['dtype']])
        tensors[name] = t.reshape(h['shape']).clone()
    return tensors, meta


def write_safetensors(path, tensors, metadata):
    """safetensors layout: sorted names, compact JSON header space-padded to 8; all F32."""
    header, blobs, offset = {'__metadata__': metadata}, [], 0
    for name in sorted(tensors, key=lambda s: s.encode('utf-8')):
        data = tensors[name].detach().contiguous().to(torch.float32).numpy().astype('<f4').tobytes()
        header[name] = {'dtype': 'F32', 'shape': list(tensors[name].shape), 'data_offsets': [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    hbytes = json.dumps(header, separators=(',', ':')).encode('utf-8')
    hbytes += b' ' * (-len(hbytes) % 8)
    with open(path, 'wb') as f:
        f.write(len(hbytes).to_bytes(8, 'little'))
        f.write(hbytes)
        for b in blobs:
            f.write(b)


def fixed_batch():
    """The first held-out record of each of the sample's 6 classes: uint8 [6, 3, 32, 32] and labels."""
    raw = open(TEST_BIN, 'rb').read()
    recs = [raw[i:i + 3073] for i in range(0, len(raw), 3073)]
    picked = [next(r for r in recs if r[0] == c) for c in range(6)]
    images = torch.tensor([list(r[1:]) for r in picked], dtype=torch.uint8).reshape(6, 3, 32, 32)
    return images, torch.tensor([r[0] for r in picked], dtype=torch.int64)


def load_export(source, name):
    module = types.ModuleType(f'export_{name}')
    exec(compile(source, f'export_{name}.py', 'exec'), module.__dict__)  # noqa: S102 — Kiln's own output
    return module


def check(name, model_arg, flags, env, tmp, images):
    weights_path = os.path.join(tmp, f'{name}.safetensors')
    kiln(['train', '--model', model_arg, '--steps', '3', '--batch', '8', '--seed', '0', '--tune', 'off',
          '--json', '--save', weights_path], env)
    source = kiln(['export-torch', '--model', model_arg, *flags], env)
    exported = load_export(source, name)
    model = exported.build()
    kiln_state, _ = read_safetensors(weights_path)
    ours = {k: (list(v.shape), v.dtype) for k, v in model.state_dict().items()}
    theirs = {k: (list(v.shape), v.dtype) for k, v in kiln_state.items()}
    if ours != theirs:
        sys.exit(f'{name}: the exported state_dict differs from Kiln\'s file:\n  export {ours}\n  kiln   {theirs}')
    model.load_state_dict(kiln_state, strict=True)
    model.eval()
    assert 'x = byte / 255,' in source, f'{name}: the export names another data range'
    x = images.to(torch.float32) / 255  # none of the three ends in Tanh: all take [0, 1]
    with torch.no_grad():
        output = model(x)
    assert torch.isfinite(output).all(), f'{name}: non-finite outputs'
    loss_kind = type(exported.LOSS).__name__
    with open(os.path.join(FIXTURES, f'export_{name}.py'), 'w', encoding='utf-8', newline='') as f:
        f.write(source)
    shutil.copyfile(weights_path, os.path.join(FIXTURES, f'export_{name}.weights.safetensors'))
    path = os.path.join(FIXTURES, f'export_{name}.safetensors')
    write_safetensors(path, {'output': output}, {
        'generator': 'scripts/check_torch_export.py',
        'torch_version': torch.__version__, 'python_version': sys.version.split()[0],
        'model': model_arg, 'export_flags': json.dumps(flags), 'loss': loss_kind,
        'input': 'x = images_u8 / 255 (float32, NCHW) of export_batch.safetensors; '
                 'output = build().eval()(x), the weights file loaded with strict=True',
        'state': json.dumps({k: v[0] for k, v in theirs.items()}),
    })
    sizes = [os.path.getsize(os.path.join(FIXTURES, f'export_{name}{ext}')) for ext in ('.py', '.weights.safetensors', '.safetensors')]
    assert max(sizes) < MAX_BYTES, f'{name}: fixture sizes {sizes}'
    print(f'{name}: {len(theirs)} tensors load strictly; {loss_kind}; output {list(output.shape)}; '
          f'fixtures {", ".join(f"{s:,}" for s in sizes)} bytes')


def verify():
    torch.use_deterministic_algorithms(False)  # CUDA's deterministic matmuls need an env setting; not needed here
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    device = 'cuda' if torch.cuda.is_available() else 'cpu'
    batch, _ = read_safetensors(os.path.join(FIXTURES, 'export_batch.safetensors'))
    x = (batch['images_u8'] / 255).to(device)
    failed = False
    for name, _, _ in MODELS:
        with open(os.path.join(FIXTURES, f'export_{name}.py'), encoding='utf-8') as f:
            exported = load_export(f.read(), name)
        state, _ = read_safetensors(os.path.join(FIXTURES, f'export_{name}.weights.safetensors'))
        model = exported.build()
        model.load_state_dict(state, strict=True)
        with torch.no_grad():
            got = model.to(device).eval()(x).cpu()
        want = read_safetensors(os.path.join(FIXTURES, f'export_{name}.safetensors'))[0]['output']
        ratio = ((got - want).abs() / (1e-4 + 1e-4 * want.abs())).max().item()
        failed |= not ratio <= 1
        print(f'{name}: {type(exported.LOSS).__name__}; {len(state)} tensors load strictly; max |torch - fixture| '
              f'{(got - want).abs().max().item():.2e} ({ratio:.3f} of the tolerance) on {device}, torch {torch.__version__}')
    sys.exit(1 if failed else 0)


def main():
    if sys.argv[1:] == ['--verify']:
        return verify()
    with open(os.path.join(FIXTURES, 'export_layers.json'), 'w', encoding='utf-8') as f:
        f.write(json.dumps(SPEC, indent=1) + '\n')
    images, labels = fixed_batch()
    write_safetensors(os.path.join(FIXTURES, 'export_batch.safetensors'), {'images_u8': images, 'labels': labels}, {
        'generator': 'scripts/check_torch_export.py', 'source': 'data/sample_test.bin: the first record of each label 0..5'})
    tmp = tempfile.mkdtemp(prefix='kiln-export-')
    env = {**os.environ, 'KILN_CACHE_DIR': os.path.join(tmp, 'cache')}
    try:
        for name, model_arg, flags in MODELS:
            check(name, model_arg, flags, env, tmp, images)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    main()
