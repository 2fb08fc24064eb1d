#!/usr/bin/python3
"""Build Kiln's embedded default dataset (data/sample.bin, data/sample_test.bin).

Why: the engine and demo must train out of the box, offline, with no CIFAR-10 download. So we cut
32x32 RGB patches from public-domain / CC0 photos that Debian's python3-skimage ships, and write
them in the exact CIFAR-10 binary format (1 label byte + 3,072 CHW pixel bytes per record), so the
same loader serves both. Label = index of the source photo in SOURCES (< 10).

Deterministic: a fixed seed drives every crop, scale and flip, and PIL's BOX filter resamples.
Held out: the test patches come from the rightmost quarter of each photo, the training patches
only from the left three quarters, so no test pixel was ever seen in training.

Run: /usr/bin/python3 scripts/build_sample.py   (needs: apt-get install -y python3-skimage)
"""
import hashlib
import os
import sys

import numpy as np
from PIL import Image
import skimage.data

# (skimage.data function, licence as stated in its docstring). Order fixes the labels.
SOURCES = [
    ("astronaut", "public domain (NASA)"),
    ("hubble_deep_field", "public domain (NASA)"),
    ("rocket", "public domain (SpaceX)"),
    ("coffee", "CC0 (Rachel Michetti)"),
    ("chelsea", "CC0 (Stefan van der Walt)"),
    ("retina", "CC0 (Mikael Haggstrom, Wikimedia Commons)"),
]
TRAIN_PER_SOURCE = 480  # 6 x 480 = 2,880 records = 8.85 MB
TEST_TOTAL = 256        # 0.79 MB
SCALES = [32, 48, 64, 96, 128]  # crop side in source pixels, resampled to 32
TEST_FRACTION = 0.25    # rightmost quarter of each photo is held out for the test set
MIN_STD = 6.0           # reject near-flat crops (black sky, retina border)
SEED = 20240611
SIDE = 32


def cut_patches(img, count, x_lo, x_hi, rng):
    """`count` random patches whose crop lies wholly within columns [x_lo, x_hi)."""
    h = img.shape[0]
    scales = [s for s in SCALES if s <= min(h, x_hi - x_lo)]
    out = []
    tries = 0
    while len(out) < count:
        tries += 1
        if tries > count * 50:
            sys.exit(f"build_sample: too many flat crops, got {len(out)} of {count}")
        s = scales[rng.integers(len(scales))]
        y = int(rng.integers(0, h - s + 1))
        x = int(rng.integers(x_lo, x_hi - s + 1))
        flip = bool(rng.integers(2))
        crop = Image.fromarray(img[y:y + s, x:x + s])
        if s != SIDE:
            crop = crop.resize((SIDE, SIDE), Image.BOX)
        patch = np.asarray(crop, dtype=np.uint8)
        if flip:
            patch = patch[:, ::-1]
        if patch.astype(np.float32).std() < MIN_STD:
            continue
        out.append(patch)
    return out


def record(label, patch):
    chw = np.ascontiguousarray(patch.transpose(2, 0, 1))  # HWC -> CHW: 1,024 R, G, B
    return bytes([label]) + chw.tobytes()


def main():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data")
    os.makedirs(root, exist_ok=True)
    rng = np.random.default_rng(SEED)
    train, test = [], []
    test_counts = [TEST_TOTAL // len(SOURCES) + (i < TEST_TOTAL % len(SOURCES))
                   for i in range(len(SOURCES))]
    for label, (name, _licence) in enumerate(SOURCES):
        img = getattr(skimage.data, name)()
        assert img.ndim == 3 and img.shape[2] == 3 and img.dtype == np.uint8, name
        w = img.shape[1]
        split = w - int(round(w * TEST_FRACTION))
        train += [(label, p) for p in cut_patches(img, TRAIN_PER_SOURCE, 0, split, rng)]
        test += [(label, p) for p in cut_patches(img, test_counts[label], split, w, rng)]
    # Interleave classes so any prefix of the file is a fair mix.
    train = [train[i] for i in rng.permutation(len(train))]
    test = [test[i] for i in rng.permutation(len(test))]
    for fname, rows in (("sample.bin", train), ("sample_test.bin", test)):
        blob = b"".join(record(lbl, p) for lbl, p in rows)
        with open(os.path.join(root, fname), "wb") as f:
            f.write(blob)
        pix = np.frombuffer(blob, dtype=np.uint8).reshape(-1, 3073)[:, 1:]
        print(f"{fname}: {len(rows)} records, {len(blob)} bytes, mean pixel {pix.mean():.1f}, "
              f"sha256 {hashlib.sha256(blob).hexdigest()}")


if __name__ == "__main__":
    main()
