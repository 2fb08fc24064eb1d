#!/usr/bin/python3
# PyTorch step-parity fixtures for every layer type and loss Kiln has beyond the seed model, for
# frozen layers and for weight decay: test/fixtures/layers_<name>.safetensors, read by
# test/parity.gpu.test.ts (which needs no PyTorch).
#
# Each model is built from the same JSON spec Kiln reads, by a small builder written here from
# PyTorch's documented constructors — deliberately not from Kiln's `torch()` strings, so a wrong
# twin cannot make its own fixture. Those strings are checked separately: Node prints them (through
# Vite, as bin/kiln.mjs loads the CLI), each is evaluated here, and the module it builds must have
# the builder's state_dict names and shapes. The fixture stores both, and the test checks that
# Kiln still declares exactly those names and shapes and still prints exactly those lines.
#
# Deterministic (seeds fixed, one thread, float32): rerunning rewrites identical files for a given
# torch build. From the repository root, with Debian's python3-torch and Node:
#
#     /usr/bin/python3 scripts/make_layer_fixtures.py
import json
import os
import subprocess
import sys
from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
OUT_DIR = os.path.join(ROOT, 'test', 'fixtures')
INIT_SEED = 0
DATA_SEED = 1234
MAX_BYTES = 300_000

SGDM = ('sgdm', {'kind': 'sgd', 'options': {'lr': 0.01, 'momentum': 0.9}}, 3)
ADAM = ('adam', {'kind': 'adam', 'options': {'lr': 1e-3}}, 3)
DECAY = [
    ('sgdm_wd', {'kind': 'sgd', 'options': {'lr': 0.01, 'momentum': 0.9, 'weightDecay': 0.01}}, 3),
    ('adam_wd', {'kind': 'adam', 'options': {'lr': 1e-3, 'weightDecay': 0.01}}, 3),
    ('adamw', {'kind': 'adamw', 'options': {'lr': 1e-3, 'weightDecay': 0.01}}, 3),
]


def conv(name, out, kernel, **kw):
    return {'name': name, 'type': 'conv2d', 'out': out, 'kernel': kernel, **kw}


def label_head(loss, classes, sigmoid):
    return {'input': [3, 4, 4], 'loss': loss, 'target': 'label', 'layers': [
        {'name': 'flatten', 'type': 'flatten'}, {'name': 'fc1', 'type': 'linear', 'out': 8},
        {'name': 'act', 'type': 'relu'}, {'name': 'fc2', 'type': 'linear', 'out': classes},
    ] + ([{'name': 'prob', 'type': 'sigmoid'}] if sigmoid else [])}


# name → (spec, batch, extra runs beyond SGD-momentum and Adam)
SPECS = OrderedDict([
    ('linear', ({'input': [3, 8, 8], 'loss': 'cross_entropy', 'layers': [
        {'name': 'flatten', 'type': 'flatten'}, {'name': 'fc1', 'type': 'linear', 'out': 32},
        {'name': 'act', 'type': 'relu'}, {'name': 'fc2', 'type': 'linear', 'out': 5}]}, 8, [])),
    ('batchnorm', ({'input': [3, 16, 16], 'loss': 'mse', 'layers': [
        conv('conv', 8, 3, padding=1, bias=False), {'name': 'bn', 'type': 'batchnorm2d'},
        {'name': 'act', 'type': 'relu'}, {'name': 'pool', 'type': 'maxpool2d', 'kernel': 2},
        {'name': 'up', 'type': 'convtranspose2d', 'out': 3, 'kernel': 2, 'stride': 2},
        {'name': 'out', 'type': 'sigmoid'}]}, 8, DECAY)),
    ('batchnorm_plain', ({'input': [3, 16, 16], 'loss': 'mse', 'layers': [
        conv('conv', 8, 3, padding=1, bias=False),
        {'name': 'bn', 'type': 'batchnorm2d', 'affine': False, 'momentum': None},
        {'name': 'act', 'type': 'relu'}, {'name': 'pool', 'type': 'maxpool2d', 'kernel': 2},
        {'name': 'up', 'type': 'convtranspose2d', 'out': 3, 'kernel': 2, 'stride': 2},
        {'name': 'out', 'type': 'sigmoid'}]}, 8, [])),
    ('avgpool_upsample', ({'input': [3, 16, 16], 'loss': 'l1', 'layers': [
        conv('conv1', 8, 3, padding=1), {'name': 'act', 'type': 'leakyrelu', 'slope': 0.2},
        {'name': 'blur', 'type': 'avgpool2d', 'kernel': 3, 'stride': 1, 'padding': 1},
        {'name': 'pool', 'type': 'avgpool2d', 'kernel': 3, 'stride': 2, 'padding': 1, 'countIncludePad': False},
        {'name': 'up', 'type': 'upsample', 'scale': 2},
        conv('conv2', 3, 3, padding=1), {'name': 'out', 'type': 'tanh'}]}, 8, [])),
    ('gelu_bce', ({'input': [3, 16, 16], 'loss': 'bce', 'layers': [
        conv('conv1', 8, 3, padding=1), {'name': 'act', 'type': 'gelu'},
        conv('conv2', 3, 3, padding=1), {'name': 'out', 'type': 'sigmoid'}]}, 8, [])),
    ('dilation', ({'input': [3, 16, 16], 'loss': 'mse', 'layers': [
        conv('conv1', 8, 3, stride=2, padding=2, dilation=2), {'name': 'act1', 'type': 'relu'},
        {'name': 'up', 'type': 'convtranspose2d', 'out': 4, 'kernel': 3, 'stride': 2, 'padding': 2, 'outputPadding': 1, 'dilation': 2},
        {'name': 'act2', 'type': 'relu'},
        conv('conv2', 3, [3, 2], padding=[2, 1], dilation=[2, 2]), {'name': 'out', 'type': 'sigmoid'}]}, 8, [])),
    ('groups', ({'input': [3, 16, 16], 'loss': 'mse', 'layers': [
        conv('conv1', 8, 3, padding=1), {'name': 'act1', 'type': 'relu'},
        conv('depthwise', 16, 3, padding=1, groups=8), {'name': 'act2', 'type': 'relu'},
        {'name': 'pool', 'type': 'maxpool2d', 'kernel': 2},
        {'name': 'up', 'type': 'convtranspose2d', 'out': 6, 'kernel': 2, 'stride': 2, 'groups': 2},
        {'name': 'act3', 'type': 'relu'}, conv('mix', 3, 1, groups=3), {'name': 'out', 'type': 'sigmoid'}]}, 8, [])),
    ('label_mse', (label_head('mse', 4, False), 8, [])),
    ('label_l1', (label_head('l1', 4, False), 8, [])),
    ('label_bce', (label_head('bce', 4, True), 8, [])),
    ('label_bce_binary', (label_head('bce', 1, True), 8, [])),
    ('frozen', ({'input': [3, 8, 8], 'loss': 'cross_entropy', 'layers': [
        conv('conv', 4, 3, padding=1, frozen=True), {'name': 'bn', 'type': 'batchnorm2d', 'frozen': True},
        {'name': 'act1', 'type': 'relu'}, {'name': 'pool', 'type': 'maxpool2d', 'kernel': 2},
        {'name': 'flatten', 'type': 'flatten'}, {'name': 'fc1', 'type': 'linear', 'out': 16, 'frozen': True},
        {'name': 'act2', 'type': 'relu'}, {'name': 'fc2', 'type': 'linear', 'out': 3}]}, 8,
        [DECAY[2]])),
])


# ---- The builder: JSON spec → nn.Sequential, from PyTorch's documented constructors ----

def pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def layer_module(s, in_shape):
    """One layer of the spec as a PyTorch module; `in_shape` is [C, H, W] or [F]."""
    t, c = s['type'], in_shape[0]
    if t == 'conv2d':
        return nn.Conv2d(c, s['out'], pair(s['kernel']), stride=pair(s.get('stride', 1)),
                         padding=pair(s.get('padding', 0)), dilation=pair(s.get('dilation', 1)),
                         groups=s.get('groups', 1), bias=s.get('bias', True))
    if t == 'convtranspose2d':
        return nn.ConvTranspose2d(c, s['out'], pair(s['kernel']), stride=pair(s.get('stride', 1)),
                                  padding=pair(s.get('padding', 0)), output_padding=pair(s.get('outputPadding', 0)),
                                  groups=s.get('groups', 1), bias=s.get('bias', True), dilation=pair(s.get('dilation', 1)))
    if t == 'linear':
        return nn.Linear(c, s['out'], bias=s.get('bias', True))
    if t == 'flatten':
        return nn.Flatten()
    if t == 'maxpool2d':
        return nn.MaxPool2d(pair(s['kernel']), stride=pair(s.get('stride', s['kernel'])), padding=pair(s.get('padding', 0)))
    if t == 'avgpool2d':
        return nn.AvgPool2d(pair(s['kernel']), stride=pair(s.get('stride', s['kernel'])), padding=pair(s.get('padding', 0)),
                            count_include_pad=s.get('countIncludePad', True))
    if t == 'upsample':
        return nn.Upsample(scale_factor=tuple(float(v) for v in pair(s['scale'])), mode='nearest')
    if t == 'batchnorm2d':
        return nn.BatchNorm2d(c, eps=s.get('eps', 1e-5), momentum=s.get('momentum', 0.1), affine=s.get('affine', True))
    if t == 'dropout':
        return nn.Dropout(p=s.get('p', 0.5))
    if t == 'leakyrelu':
        return nn.LeakyReLU(negative_slope=s.get('slope', 0.01))
    simple = {'relu': nn.ReLU, 'selu': nn.SELU, 'sigmoid': nn.Sigmoid, 'tanh': nn.Tanh, 'gelu': nn.GELU}
    return simple[t]()


def build(spec):
    """The model, initialised by PyTorch's defaults in layer order (the caller seeds)."""
    layers, shape = OrderedDict(), list(spec['input'])
    for i, s in enumerate(spec['layers']):
        m = layer_module(s, shape)
        for p in m.parameters():
            p.requires_grad_(not s.get('frozen', False))
        with torch.no_grad():  # shape inference in eval mode: no running-statistics update, no RNG
            m.eval()
            shape = list(m(torch.zeros(1, *shape)).shape[1:])
            m.train()
        layers[s.get('name', str(i))] = m
    return nn.Sequential(layers), shape


def loss_value(spec, y, x, labels):
    kind = spec.get('loss', 'mse')
    target = spec.get('target', 'label' if kind == 'cross_entropy' else 'input')
    if kind == 'cross_entropy':
        return F.cross_entropy(y, labels)
    if target == 'input':
        t = x
    elif y.shape[1] == 1:  # a single output: the label itself (0 or 1) is the target
        t = labels.to(torch.float32)[:, None]
    else:  # one-hot of the label (src/ops/loss.ts)
        t = F.one_hot(labels, y.shape[1]).to(torch.float32)
    return {'mse': F.mse_loss, 'l1': F.l1_loss, 'bce': F.binary_cross_entropy}[kind](y, t)


def optimizer(cfg, params):
    o = cfg['options']
    wd = o.get('weightDecay', 0)
    if cfg['kind'] == 'sgd':
        return torch.optim.SGD(params, lr=o['lr'], momentum=o.get('momentum', 0), weight_decay=wd)
    if cfg['kind'] == 'adam':
        return torch.optim.Adam(params, lr=o['lr'], weight_decay=wd)
    return torch.optim.AdamW(params, lr=o['lr'], weight_decay=wd)


# ---- Data: uint8 image patches (a colour gradient, a disc, a box, noise) and labels ----

def make_images(n, c, h, w, g):
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing='ij')
    imgs = torch.empty(n, c, h, w)
    for i in range(n):
        theta = float(torch.rand(1, generator=g)) * 2 * torch.pi
        t = torch.cos(torch.tensor(theta)) * xx / (w - 1) + torch.sin(torch.tensor(theta)) * yy / (h - 1)
        t = (t - t.min()) / (t.max() - t.min())
        c0, c1 = torch.rand(c, generator=g) * 255, torch.rand(c, generator=g) * 255
        img = c0[:, None, None] * (1 - t) + c1[:, None, None] * t
        cy, cx = (torch.rand(2, generator=g) * torch.tensor([h, w]) * 0.6 + torch.tensor([h, w]) * 0.2).tolist()
        r = (float(torch.rand(1, generator=g)) * 0.15 + 0.1) * min(h, w)
        img = torch.where((yy - cy) ** 2 + (xx - cx) ** 2 <= r * r, (torch.rand(c, generator=g) * 255)[:, None, None], img)
        y0, x0 = (torch.rand(2, generator=g) * torch.tensor([h, w]) * 0.7).long().tolist()
        box = (yy >= y0) & (yy < y0 + h // 4) & (xx >= x0) & (xx < x0 + w // 3)
        img = torch.where(box, (torch.rand(c, generator=g) * 255)[:, None, None], img)
        imgs[i] = img + torch.randn(c, h, w, generator=g) * 6
    return imgs.round().clamp(0, 255).to(torch.uint8)


def make_labels(n, classes, g):
    """Every class present (binary: both values), in a seeded order."""
    base = torch.arange(n) % max(classes, 2)
    return base[torch.randperm(n, generator=g)]


def scaled(images, out_activation):
    """As Kiln's gather does (src/data/range.ts): [-1, 1] for a Tanh output, else [0, 1]."""
    x = images.to(torch.float32)
    return x / 127.5 - 1 if out_activation == 'tanh' else x / 255


# ---- Kiln's own PyTorch twins, evaluated and compared with the builder ----

NODE_TWINS = r"""
import { runnerImport } from 'vite';
const root = process.argv[1];
const opts = { configFile: `${root}/vite.config.ts`, logLevel: 'error' };
const { module: spec } = await runnerImport(`${root}/src/nn/spec.ts`, opts);
const { module: reg } = await runnerImport(`${root}/src/layers/index.ts`, opts);
const specs = JSON.parse(process.argv[2]);
const out = {};
for (const [name, s] of Object.entries(specs)) out[name] = spec.buildModel(s, name).layers.map((L) => reg.LAYERS[L.type].torch(L));
process.stdout.write(`${JSON.stringify(out)}\n`, () => process.exit(0)); // exit once a pipe has taken it all
"""


def kiln_twins():
    specs = {name: s for name, (s, _, _) in SPECS.items()}
    r = subprocess.run(['node', '--input-type=module', '-e', NODE_TWINS, ROOT, json.dumps(specs)],
                       cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


def shapes_of(module):
    return OrderedDict((k, list(v.shape)) for k, v in module.state_dict().items())


def check_twins(name, model, lines):
    for (lname, m), line in zip(model.named_children(), lines):
        twin = eval(line, {'nn': nn, 'torch': torch})  # noqa: S307 — Kiln's own one-line constructor
        if shapes_of(twin) != shapes_of(m) or repr(twin) != repr(m):
            sys.exit(f'{name}: layer {lname}: Kiln\'s twin {line} builds {repr(twin)} {dict(shapes_of(twin))}, '
                     f'the builder {repr(m)} {dict(shapes_of(m))}')


# ---- Output ----

def write_safetensors(path, tensors, metadata):
    """safetensors layout: sorted names, compact JSON header space-padded to 8; I64 kept as I64."""
    header, blobs, offset = {'__metadata__': metadata}, [], 0
    for name in sorted(tensors, key=lambda s: s.encode('utf-8')):
        v = tensors[name].detach().contiguous()
        dtype = 'I64' if v.dtype == torch.int64 else 'F32'
        data = v.numpy().astype('<i8' if dtype == 'I64' else '<f4').tobytes()
        header[name] = {'dtype': dtype, 'shape': list(v.shape), 'data_offsets': [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    hbytes = json.dumps(header, separators=(',', ':')).encode('utf-8')
    hbytes += b' ' * (-len(hbytes) % 8)
    with open(path, 'wb') as f:
        f.write(len(hbytes).to_bytes(8, 'little'))
        f.write(hbytes)
        for b in blobs:
            f.write(b)


def run(spec, init_state, x, labels, cfg, steps):
    """zero_grad, forward, loss (recorded before the update), backward, step — on the whole batch."""
    model, _ = build(spec)
    model.load_state_dict(init_state)
    trainable = [p for p in model.parameters() if p.requires_grad]
    opt = optimizer(cfg, trainable)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = loss_value(spec, model(x), x, labels)
        losses.append(loss.item())
        loss.backward()
        opt.step()
    return torch.tensor(losses, dtype=torch.float32), model.state_dict()


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    twins = kiln_twins()
    for name, (spec, batch, extra) in SPECS.items():
        torch.manual_seed(INIT_SEED)
        model, out_shape = build(spec)
        check_twins(name, model, twins[name])
        init_state = OrderedDict((k, v.clone()) for k, v in model.state_dict().items())
        g = torch.Generator().manual_seed(DATA_SEED)
        images = make_images(batch, *spec['input'], g)
        classes = out_shape[0] if spec.get('target', 'label' if spec['loss'] == 'cross_entropy' else 'input') == 'label' else 0
        labels = make_labels(batch, classes, g) if classes else torch.zeros(batch, dtype=torch.int64)
        out_act = spec['layers'][-1]['type']
        x = scaled(images, out_act)
        tensors = {f'init.{k}': v for k, v in init_state.items()}
        tensors['images_u8'] = images.to(torch.float32)
        if classes:
            tensors['labels'] = labels.to(torch.float32)
        runs = [SGDM, ADAM, *extra]
        for rname, cfg, steps in runs:
            losses, after = run(spec, init_state, x, labels, cfg, steps)
            assert torch.isfinite(losses).all(), f'{name}/{rname}: non-finite loss'
            tensors[f'{rname}.losses'] = losses
            for k, v in after.items():
                tensors[f'{rname}.after.{k}'] = v
                frozen = any(k.startswith(f'{s.get("name")}.') and s.get('frozen') for s in spec['layers'])
                if frozen and not k.endswith(('running_mean', 'running_var', 'num_batches_tracked')):
                    assert torch.equal(v, init_state[k]), f'{name}/{rname}: frozen {k} changed'
        path = os.path.join(OUT_DIR, f'layers_{name}.safetensors')
        write_safetensors(path, tensors, {
            'generator': 'scripts/make_layer_fixtures.py',
            'torch_version': torch.__version__, 'python_version': sys.version.split()[0],
            'spec': json.dumps(spec), 'batch': str(batch),
            'range': '-1,1' if out_act == 'tanh' else '0,1',
            'input': 'x = images_u8 / 127.5 - 1 for a Tanh output, else images_u8 / 255 (float32, NCHW)',
            'init_seed': f'torch.manual_seed({INIT_SEED}), then each layer built in spec order (PyTorch default init)',
            'data_seed': f'torch.Generator().manual_seed({DATA_SEED}): images, then labels',
            'protocol': 'whole batch every step: zero_grad, forward, loss recorded, backward, step; '
                        'frozen layers: requires_grad False, left out of the optimizer',
            'runs': json.dumps([{'name': r, 'optimizer': cfg, 'steps': s} for r, cfg, s in runs]),
            'state_shapes': json.dumps(shapes_of(model)),
            'kiln_torch': json.dumps(twins[name]),
        })
        size = os.path.getsize(path)
        assert size < MAX_BYTES, f'{path}: {size} bytes'
        print(f'{os.path.relpath(path, ROOT)}: {size:,} bytes, runs {", ".join(r for r, _, _ in runs)}')


if __name__ == '__main__':
    main()
