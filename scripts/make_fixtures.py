#!/usr/bin/python3
# PyTorch golden fixtures for Kiln's seed model (a small convolutional autoencoder).
#
# Why: the WebGPU kernels, autograd and optimizers are checked against numbers that PyTorch
# computed, not against our own idea of what they should be. Everything here is deterministic
# (fixed seeds, one CPU thread, float32), so re-running it rewrites byte-identical files for a
# given torch build. Run from the repository root:
#
#     /usr/bin/python3 scripts/make_fixtures.py
#
# Writes test/fixtures/cae_forward_backward.safetensors and test/fixtures/cae_train.safetensors.
# The safetensors writer is built in (json + struct) unless the `safetensors` package is present,
# so the only dependency is torch (Debian: apt-get install python3-torch).
import json
import os
import struct
import sys

import torch
import torch.nn as nn

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures')
INIT_SEED = 0        # torch.manual_seed before building the model (PyTorch default init)
IMAGE_SEED = 1234    # torch.Generator seed for the synthetic image batch
BATCH, CH, H, W = 8, 3, 32, 32
SGD_LR, SGD_STEPS = 0.01, 1
SGDM_LR, SGDM_MOMENTUM, SGDM_STEPS = 0.01, 0.9, 3
ADAM_LR, ADAM_STEPS = 1e-3, 3


class CAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Sequential(nn.Conv2d(3, 16, 3, 1, 1), nn.SELU(), nn.MaxPool2d(2, 2))
        self.conv2 = nn.Sequential(nn.Conv2d(16, 32, 3, 1, 1), nn.SELU(), nn.MaxPool2d(2, 2))
        self.transconv1 = nn.Sequential(nn.ConvTranspose2d(32, 16, 2, 2), nn.ReLU())
        self.transconv2 = nn.Sequential(nn.ConvTranspose2d(16, 3, 2, 2), nn.Sigmoid())

    def forward(self, x):
        return self.transconv2(self.transconv1(self.conv2(self.conv1(x))))


def make_images():
    """8 uint8 RGB 32x32 'image patches': a linear colour gradient, a disc, a box, seeded noise."""
    g = torch.Generator().manual_seed(IMAGE_SEED)

    def rand(*shape):
        return torch.rand(*shape, generator=g)

    yy, xx = torch.meshgrid(torch.arange(H, dtype=torch.float32),
                            torch.arange(W, dtype=torch.float32), indexing='ij')
    imgs = torch.empty(BATCH, CH, H, W)
    for i in range(BATCH):
        theta = float(rand(1)) * 2 * torch.pi
        t = torch.cos(torch.tensor(theta)) * xx / (W - 1) + torch.sin(torch.tensor(theta)) * yy / (H - 1)
        t = (t - t.min()) / (t.max() - t.min())
        c0, c1 = rand(CH) * 255, rand(CH) * 255
        img = c0[:, None, None] * (1 - t) + c1[:, None, None] * t
        cy, cx = (rand(2) * 20 + 6).tolist()
        r = float(rand(1)) * 5 + 3
        disc = ((yy - cy) ** 2 + (xx - cx) ** 2) <= r * r
        img = torch.where(disc, (rand(CH) * 255)[:, None, None], img)
        y0, x0 = (rand(2) * 24).long().tolist()
        bh, bw = (rand(2) * 8 + 4).long().tolist()
        box = (yy >= y0) & (yy < y0 + bh) & (xx >= x0) & (xx < x0 + bw)
        img = torch.where(box, (rand(CH) * 255)[:, None, None], img)
        img = img + torch.randn(CH, H, W, generator=g) * 6
        imgs[i] = img
    return imgs.round().clamp(0, 255).to(torch.uint8)


def fresh_model(init_state):
    m = CAE()
    m.load_state_dict(init_state)
    return m


def train(init_state, x, make_opt, steps):
    """Full-batch training with target = input; loss recorded before each update."""
    model = fresh_model(init_state)
    opt = make_opt(model.parameters())
    loss_fn = nn.MSELoss()
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = loss_fn(model(x), x)
        losses.append(loss.item())
        loss.backward()
        opt.step()
    return torch.tensor(losses, dtype=torch.float32), model


def write_safetensors(path, tensors, metadata):
    """Same layout as the safetensors library: sorted names, compact JSON, space-padded to 8."""
    tensors = {k: v.detach().to(torch.float32).contiguous() for k, v in tensors.items()}
    try:
        from safetensors.torch import save_file
        save_file(tensors, path, metadata=metadata)
        return
    except ImportError:
        pass
    header, blobs, offset = {'__metadata__': metadata}, [], 0
    for name in sorted(tensors, key=lambda s: s.encode('utf-8')):
        data = tensors[name].numpy().astype('<f4').tobytes()
        header[name] = {'dtype': 'F32', 'shape': list(tensors[name].shape),
                        'data_offsets': [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    hbytes = json.dumps(header, separators=(',', ':')).encode('utf-8')
    hbytes += b' ' * (-len(hbytes) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(hbytes)))
        f.write(hbytes)
        for b in blobs:
            f.write(b)


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    torch.manual_seed(INIT_SEED)
    model = CAE()
    init_state = {k: v.clone() for k, v in model.state_dict().items()}
    assert sum(v.numel() for v in init_state.values()) == 7347
    images = make_images()
    x = images.to(torch.float32) / 255

    common = {
        'torch_version': torch.__version__,
        'python_version': sys.version.split()[0],
        'generator': 'scripts/make_fixtures.py',
        'model': 'CAE: conv1=Conv2d(3,16,3,1,1)+SELU+MaxPool2d(2,2); conv2=Conv2d(16,32,3,1,1)'
                 '+SELU+MaxPool2d(2,2); transconv1=ConvTranspose2d(32,16,2,2)+ReLU; '
                 'transconv2=ConvTranspose2d(16,3,2,2)+Sigmoid',
        'init_seed': f'torch.manual_seed({INIT_SEED}) then CAE() (PyTorch default init)',
        'image_seed': str(IMAGE_SEED),
        'input': 'x = images_u8 / 255 (float32), NCHW',
        'loss': 'nn.MSELoss() mean, target = x',
        'num_threads': '1',
        'dtype': 'float32',
    }

    # a) forward + backward on the batch, with per-layer activations for image 0 only
    #    (the full batch of activations would be ~2 MB; image 0 is enough to localise a bug).
    out = {f'init.{k}': v for k, v in init_state.items()}
    out['images_u8'] = images.to(torch.float32)
    h = x
    for block in ('conv1', 'conv2', 'transconv1', 'transconv2'):
        for j, layer in enumerate(getattr(model, block)):
            h = layer(h)
            out[f'act.{block}.{j}'] = h[0:1]
    y = model(x)
    assert torch.equal(y, h)
    loss = nn.MSELoss()(y, x)
    loss.backward()
    out['output'] = y
    out['loss'] = loss.reshape(1)
    for k, p in model.named_parameters():
        out[f'grad.{k}'] = p.grad
    write_safetensors(os.path.join(OUT_DIR, 'cae_forward_backward.safetensors'), out,
                      {**common, 'act_batch_index': '0 (act.* tensors hold image 0 only, batch dim 1)'})

    # b) optimizer steps from the same init on the same batch (images_u8 lives in file a).
    out = {f'init.{k}': v for k, v in init_state.items()}
    runs = {
        'sgd': (lambda ps: torch.optim.SGD(ps, lr=SGD_LR), SGD_STEPS),
        'sgdm': (lambda ps: torch.optim.SGD(ps, lr=SGDM_LR, momentum=SGDM_MOMENTUM), SGDM_STEPS),
        'adam': (lambda ps: torch.optim.Adam(ps, lr=ADAM_LR), ADAM_STEPS),
    }
    for name, (make_opt, steps) in runs.items():
        losses, m = train(init_state, x, make_opt, steps)
        out[f'{name}.losses'] = losses
        for k, p in m.named_parameters():
            out[f'{name}.after.{k}'] = p
    write_safetensors(os.path.join(OUT_DIR, 'cae_train.safetensors'), out, {
        **common,
        'images': 'images_u8 from cae_forward_backward.safetensors (same seed)',
        'protocol': 'full batch each step; zero_grad, forward, loss recorded, backward, step',
        'sgd': f'torch.optim.SGD(lr={SGD_LR}, momentum=0), steps={SGD_STEPS}',
        'sgdm': f'torch.optim.SGD(lr={SGDM_LR}, momentum={SGDM_MOMENTUM}, dampening=0, '
                f'nesterov=False), steps={SGDM_STEPS}',
        'adam': f'torch.optim.Adam(lr={ADAM_LR}, betas=(0.9, 0.999), eps=1e-08, '
                f'weight_decay=0, amsgrad=False), steps={ADAM_STEPS}',
    })


if __name__ == '__main__':
    main()
