#!/usr/bin/python3
# The `classifier` preset trained by PyTorch and by Kiln from the same initial weights on the same
# data order, test accuracy per epoch side by side: test/fixtures/classifier_vs_torch.json and a
# Markdown table on stdout (the one in README).
#
# Same start: PyTorch's default init after torch.manual_seed(0), written as safetensors and given
# to Kiln with --init. Same order: Kiln's per-epoch shuffle (epochOrder in src/nn/init.ts:
# mulberry32 + Fisher–Yates) reimplemented here and checked against Kiln's own for every epoch.
# Same optimizer (Adam, lr 1e-3), batch (32), loss (cross-entropy), data scaling (bytes / 255) and
# evaluation (eval mode: batchnorm on running statistics, no dropout, on data/sample_test.bin).
# Only the dropout masks differ (PyTorch's generator vs Kiln's Philox), so expect a small gap.
#
#     /usr/bin/python3 scripts/classifier_vs_torch.py [--epochs 10] [--seeds 0,1,2]
#
# Needs Debian's python3-torch and Node (Kiln runs through bin/kiln.mjs on whatever adapter it
# finds; its tuning cache goes to a temporary KILN_CACHE_DIR). A Kiln epoch takes about 2 minutes on
# a 2-core machine without a GPU (SwiftShader), 0.14 s on an H200; a PyTorch epoch 3 s (one CPU
# thread). Dropout makes single runs noisy (±5 points between seeds), so the check — Kiln at least
# PyTorch − 2 points at the final epoch — is on the mean over the seeds. The committed results:
#
#     /usr/bin/python3 scripts/classifier_vs_torch.py --write-init init.safetensors   # here; then, on a GPU
#     kiln train --model classifier --epochs 10 --init init.safetensors --seed N --batch 32 --lr 0.001 \
#       --optimizer adam --json > logs/seedN.jsonl 2>&1                                    # machine, N = 0…19
#     /usr/bin/python3 scripts/classifier_vs_torch.py --epochs 10 --seeds 0,1,…,19 --kiln-logs logs  # + logs/init.safetensors
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_layer_fixtures import build, write_safetensors  # noqa: E402  (the same spec → PyTorch builder)

torch.set_num_threads(1)
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
OUT = os.path.join(ROOT, 'test', 'fixtures', 'classifier_vs_torch.json')
BATCH, LR, INIT_SEED = 32, 1e-3, 0
M32 = 0xffffffff


# ---- Kiln's data order, exactly (src/nn/init.ts) ----

def imul(a, b):
    return (a * b) & M32


def mulberry32(seed):
    a = seed & M32

    def draw():
        nonlocal a
        a = (a + 0x6d2b79f5) & M32
        t = imul(a ^ (a >> 15), a | 1)
        t ^= (t + imul(t ^ (t >> 7), t | 61)) & M32
        return ((t ^ (t >> 14)) & M32) / 4294967296
    return draw


def epoch_order(n, seed, epoch):
    r = mulberry32((seed * 1_000_003 + epoch * 7919 + 1) & M32)
    order = list(range(n))
    for i in range(n - 1, 0, -1):
        j = int(r() * (i + 1))
        order[i], order[j] = order[j], order[i]
    return order


# ---- Kiln through Node ----

NODE = r"""
import { runnerImport } from 'vite';
const [root, what, ...args] = process.argv.slice(1);
const opts = { configFile: `${root}/vite.config.ts`, logLevel: 'error' };
let out;
if (what === 'spec') {
  const { module } = await runnerImport(`${root}/src/nn/presets.ts`, opts);
  out = module.PRESETS.classifier({ classes: Number(args[0]) });
} else {
  const { module } = await runnerImport(`${root}/src/nn/init.ts`, opts);
  const [n, seed, epochs] = args.map(Number);
  out = Array.from({ length: epochs }, (_, e) => Array.from(module.epochOrder(n, seed, e)));
}
// Exit only once stdout is flushed: a pipe takes 64 KiB at a time.
process.stdout.write(`${JSON.stringify(out)}\n`, () => process.exit(0));
"""


def node(*args):
    r = subprocess.run(['node', '--input-type=module', '-e', NODE, ROOT, *map(str, args)], cwd=ROOT,
                       capture_output=True, text=True, check=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


def kiln_args(init_path, epochs, seed):
    return ['train', '--model', 'classifier', '--epochs', str(epochs), '--init', init_path,
            '--seed', str(seed), '--batch', str(BATCH), '--lr', str(LR), '--optimizer', 'adam', '--json']


def kiln_train(init_path, epochs, seed, cache_dir):
    cmd = ['node', 'bin/kiln.mjs', *kiln_args(init_path, epochs, seed)]
    env = {**os.environ, 'KILN_CACHE_DIR': cache_dir}
    t0 = time.time()
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        sys.exit(f'kiln failed ({r.returncode}): {r.stderr.strip()}')
    evals, info = parse_kiln(r.stdout, r.stderr)
    return evals, {'seconds': round(time.time() - t0, 1), **info}


def kiln_log(folder, seed, init_path):
    """A run made elsewhere with the same command line; its init file must be byte-identical to ours."""
    with open(os.path.join(folder, 'init.safetensors'), 'rb') as f, open(init_path, 'rb') as g:
        assert f.read() == g.read(), f'{folder}/init.safetensors is not this script\'s init'
    with open(os.path.join(folder, f'seed{seed}.jsonl')) as f:
        out = f.read()
    err_path = os.path.join(folder, f'seed{seed}.err')
    err = open(err_path).read() if os.path.exists(err_path) else ''
    return parse_kiln(out, err or out)  # stderr may be merged into the log


def parse_kiln(stdout, stderr):
    lines = [json.loads(line) for line in stdout.splitlines() if line.startswith('{')]
    # Epoch-end evaluations: {"epoch": e, "eval_loss": …, "accuracy": …} (e from 0); steps and the summary differ.
    evals = [{'epoch': e['epoch'] + 1, 'accuracy': e['accuracy'], 'eval_loss': e['eval_loss']}
             for e in lines if 'eval_loss' in e and 'step' not in e and 'summary' not in e]
    summary = next((e for e in lines if e.get('summary')), {})
    init = next((line for line in stderr.splitlines() if '--init' in line), '')
    return evals, {'images_per_s': summary.get('images_per_s'), 'seconds_training': summary.get('seconds'),
                   'adapter': summary.get('adapter'), 'init': init}


# ---- Data and PyTorch ----

def load_bin(path):
    r = np.fromfile(path, dtype=np.uint8).reshape(-1, 3073)
    return torch.from_numpy(r[:, 1:].reshape(-1, 3, 32, 32).copy()), torch.from_numpy(r[:, 0].astype(np.int64))


def evaluate(model, x, y):
    model.eval()
    with torch.no_grad():
        logits = model(x.to(torch.float32) / 255)
        loss = F.cross_entropy(logits, y).item()
        acc = (logits.argmax(1) == y).to(torch.float64).mean().item()
    model.train()
    return acc, loss


def torch_train(spec, init_state, train, test, orders, dropout_seed):
    model, _ = build(spec)
    model.load_state_dict(init_state)
    torch.manual_seed(dropout_seed)  # only dropout draws from it from here on
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    (xs, ys), steps = train, len(train[0]) // BATCH
    evals = []
    for e, order in enumerate(orders):
        order = torch.tensor(order)
        for k in range(steps):
            idx = order[k * BATCH:(k + 1) * BATCH]
            opt.zero_grad()
            F.cross_entropy(model(xs[idx].to(torch.float32) / 255), ys[idx]).backward()
            opt.step()
        acc, loss = evaluate(model, *test)
        evals.append({'epoch': e + 1, 'accuracy': acc, 'eval_loss': loss})
    return evals


def pct(v):
    return f'{100 * v:.1f} %'


def table(results):
    """Test accuracy per epoch: each run side by side for a few seeds; for many, mean ± sd and the gap."""
    runs = results['runs']
    acc = {who: np.array([[e['accuracy'] for e in r[who]] for r in runs]) * 100 for who in ('torch', 'kiln')}
    if len(runs) <= 3:
        head = ['epoch'] + [f'{who} (seed {r["seed"]})' for r in runs for who in ('PyTorch', 'Kiln')]
        rows = [[f'{e + 1}'] + [f'{acc[who][i, e]:.1f} %' for i in range(len(runs)) for who in ('torch', 'kiln')]
                for e in range(results['epochs'])]
    else:
        n = len(runs)
        head = ['epoch', f'PyTorch, mean ± sd ({n} seeds)', f'Kiln, mean ± sd ({n} seeds)', 'Kiln − PyTorch (± s.e.)']
        rows = []
        for e in range(results['epochs']):
            t, k = acc['torch'][:, e], acc['kiln'][:, e]
            se = np.sqrt(t.var(ddof=1) / n + k.var(ddof=1) / n)
            rows.append([f'{e + 1}', f'{t.mean():.1f} ± {t.std(ddof=1):.1f} %', f'{k.mean():.1f} ± {k.std(ddof=1):.1f} %',
                         f'{round(k.mean() - t.mean(), 1) + 0.0:+.1f} ± {se:.1f}'])
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---:|' * len(head)]
    return '\n'.join(lines + ['| ' + ' | '.join(r) + ' |' for r in rows])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--epochs', type=int, default=10)
    ap.add_argument('--seeds', default='0', help='comma-separated: Kiln --seed (order and dropout), PyTorch order and dropout seed')
    ap.add_argument('--kiln-logs', help='a folder of `kiln train --json` outputs made elsewhere (a GPU machine), seed<N>.jsonl, '
                    'with this script\'s --init file (written there as init.safetensors) instead of running Kiln here')
    ap.add_argument('--write-init', metavar='PATH', help='only write the initial weights (for a run elsewhere) and exit')
    ap.add_argument('--out', default=OUT)
    ap.add_argument('--table', metavar='RESULTS', help='only print the Markdown table of a results file made before')
    a = ap.parse_args()
    if a.table:
        with open(a.table) as f:
            print(table(json.load(f)))
        return 0
    seeds = [int(s) for s in a.seeds.split(',')]
    train = load_bin(os.path.join(ROOT, 'data', 'sample.bin'))
    test = load_bin(os.path.join(ROOT, 'data', 'sample_test.bin'))
    classes = int(train[1].max()) + 1
    spec = node('spec', classes)
    torch.manual_seed(INIT_SEED)
    model, _ = build(spec)
    init_state = {k: v.clone() for k, v in model.state_dict().items()}
    if a.write_init:
        write_safetensors(a.write_init, init_state, {'format': 'pt'})
        return 0
    results = {
        'generator': 'scripts/classifier_vs_torch.py', 'torch_version': torch.__version__,
        'model': 'classifier preset (src/nn/presets.ts), ' + json.dumps(spec),
        'data': f'data/sample.bin ({len(train[0])} records, {classes} classes), evaluated on data/sample_test.bin ({len(test[0])})',
        'init': f'torch.manual_seed({INIT_SEED}), PyTorch default init; given to Kiln with --init',
        'training': f'Adam lr {LR}, batch {BATCH}, cross-entropy, x = bytes / 255, Kiln\'s epoch order for both',
        'differs': 'dropout masks (PyTorch: torch.manual_seed(seed) after init; Kiln: Philox keyed by --seed)',
        'kiln_command': 'kiln ' + ' '.join(kiln_args('init.safetensors', a.epochs, '<seed>')),
        'kiln_source': 'logs of that command made on another machine (--kiln-logs)' if a.kiln_logs else 'run here by this script',
        'epochs': a.epochs, 'runs': [],
    }
    with tempfile.TemporaryDirectory(prefix='kiln-vs-torch-') as tmp:
        init_path = os.path.join(tmp, 'init.safetensors')
        write_safetensors(init_path, init_state, {'format': 'pt'})
        for seed in seeds:
            orders = [epoch_order(len(train[0]), seed, e) for e in range(a.epochs)]
            assert orders == node('order', len(train[0]), seed, a.epochs), f'seed {seed}: epoch orders differ from Kiln\'s'
            t0 = time.time()
            torch_evals = torch_train(spec, init_state, train, test, orders, seed)
            torch_s = time.time() - t0
            if a.kiln_logs:
                kiln_evals, info = kiln_log(a.kiln_logs, seed, init_path)
            else:
                kiln_evals, info = kiln_train(init_path, a.epochs, seed, os.path.join(tmp, 'cache'))
            assert len(kiln_evals) == a.epochs, f'Kiln printed {len(kiln_evals)} evaluations'
            assert 'fresh' not in info['init'], f'Kiln did not take every tensor from --init: {info["init"]}'
            results['runs'].append({'seed': seed, 'torch': torch_evals, 'kiln': kiln_evals,
                                    'torch_seconds': round(torch_s, 1), 'kiln_run': info})
            print(f'seed {seed}: PyTorch {pct(torch_evals[-1]["accuracy"])}, Kiln {pct(kiln_evals[-1]["accuracy"])} '
                  f'after {a.epochs} epochs (Kiln on {info["adapter"]})', file=sys.stderr)
    runs = results['runs']
    final = {who: float(np.mean([r[who][-1]['accuracy'] for r in runs])) for who in ('torch', 'kiln')}
    last3 = {who: float(np.mean([e['accuracy'] for r in runs for e in r[who][-3:]])) for who in ('torch', 'kiln')}
    results['final'] = {
        'accuracy_final_epoch_mean_over_seeds': final,
        'accuracy_last_3_epochs_mean_over_seeds': last3,
        'kiln_minus_torch_points_final_epoch_per_seed': [round(100 * (r['kiln'][-1]['accuracy'] - r['torch'][-1]['accuracy']), 2) for r in runs],
        'torch_spread_points_final_epoch': round(100 * float(np.ptp([r['torch'][-1]['accuracy'] for r in runs])), 2),
    }
    with open(a.out, 'w') as f:
        json.dump(results, f, indent=1)
        f.write('\n')
    print(table(results))
    ok = final['kiln'] >= final['torch'] - 0.02
    print(f'\nfinal epoch, mean over seeds: PyTorch {pct(final["torch"])}, Kiln {pct(final["kiln"])}; '
          f'last 3 epochs: PyTorch {pct(last3["torch"])}, Kiln {pct(last3["kiln"])}; '
          f'Kiln ≥ PyTorch − 2 points: {"yes" if ok else "NO"}', file=sys.stderr)
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
