"""Training throughput of the picture CNN (components/train/picture-cnn.ts) in PyTorch, the baseline for
the TF.js loop on the same pictures (Fashion-MNIST's official training split, 28x28, grey given as three
equal channels as the TF.js model reads them), on this machine's cores (torch.set_num_threads).

The same network: conv3x3(3->32, no bias) BN ReLU maxpool2, conv3x3(32->64, no bias) BN ReLU maxpool2,
flatten, dropout, linear(3136->128, no bias) BN ReLU, dropout, linear(128->10); cross-entropy; Adam; the
same augmentation (flip with probability 0.5, shift up to --shift pixels, zero fill) done per batch in
numpy; batch --batch. Timed: --steps training steps after 5 warm-up steps, including making each batch
and reading the loss back (the TF.js loop does both).

Output, one JSON line: {"model": "torch-picture-cnn", "samplesPerSecond", "runs": [...], "threads", "torch"}.
Without PyTorch: {"available": false, ...} and exit 69.

  /usr/bin/python3 bench/fashion_torch.py [--data /usr/share/datasets/fashion-mnist] [--steps 100] [--batch 64]
      [--threads 2] [--repeat 3] [--epochs 0]
--epochs N also trains N full epochs afterwards with a cosine learning rate and prints the official test
accuracy ({"testAccuracy", "trainSeconds"}): what PyTorch reaches on these cores.
"""
import argparse
import gzip
import json
import math
import sys
import time

UNAVAILABLE = 69

parser = argparse.ArgumentParser()
parser.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
parser.add_argument("--steps", type=int, default=100)
parser.add_argument("--batch", type=int, default=64)
parser.add_argument("--threads", type=int, default=2)
parser.add_argument("--repeat", type=int, default=3)
parser.add_argument("--lr", type=float, default=2e-3)
parser.add_argument("--shift", type=int, default=1)
parser.add_argument("--dropout", type=float, default=0.2)
parser.add_argument("--epochs", type=int, default=0)
parser.add_argument("--seed", type=int, default=1)
args = parser.parse_args()

try:
    import numpy as np
    import torch
    from torch import nn
except ImportError as error:
    print(json.dumps({"model": "torch-picture-cnn", "available": False, "reason": str(error)}))
    sys.exit(UNAVAILABLE)


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * k: 8 + 4 * k], "big") for k in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


class PictureCnn(nn.Module):
    def __init__(self, dropout):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32, momentum=0.01, eps=1e-3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64, momentum=0.01, eps=1e-3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Dropout(dropout),
            nn.Linear(64 * 7 * 7, 128, bias=False), nn.BatchNorm1d(128, momentum=0.01, eps=1e-3), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(128, 10),
        )

    def forward(self, x):
        return self.features(x)


def make_batch(images, indices, rng, shift):
    batch = images[indices].astype(np.float32) / 255.0
    n = len(indices)
    flips = rng.random(n) < 0.5
    batch[flips] = batch[flips, :, ::-1]
    if shift:
        out = np.zeros_like(batch)
        dys = rng.integers(-shift, shift + 1, n)
        dxs = rng.integers(-shift, shift + 1, n)
        for k in range(n):
            dy, dx = dys[k], dxs[k]
            src = batch[k, max(0, -dy):28 - max(0, dy), max(0, -dx):28 - max(0, dx)]
            out[k, max(0, dy):max(0, dy) + src.shape[0], max(0, dx):max(0, dx) + src.shape[1]] = src
        batch = out
    x = torch.from_numpy(np.ascontiguousarray(batch)).unsqueeze(1).expand(-1, 3, -1, -1)
    return x


def main():
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    images = read_idx(f"{args.data}/train-images-idx3-ubyte.gz")
    labels = torch.from_numpy(read_idx(f"{args.data}/train-labels-idx1-ubyte.gz").astype(np.int64))
    rng = np.random.default_rng(args.seed)
    runs = []
    for _ in range(args.repeat):
        model = PictureCnn(args.dropout)
        optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
        loss_fn = nn.CrossEntropyLoss()
        model.train()
        order = rng.permutation(len(images))
        for step in range(5 + args.steps):
            if step == 5:
                started = time.perf_counter()
            idx = order[(step * args.batch) % (len(images) - args.batch):][: args.batch]
            x = make_batch(images, idx, rng, args.shift)
            optimizer.zero_grad()
            loss = loss_fn(model(x), labels[idx])
            loss.backward()
            optimizer.step()
            loss.item()
        runs.append(args.steps * args.batch / (time.perf_counter() - started))
    runs_sorted = sorted(runs)
    result = {"model": "torch-picture-cnn", "samplesPerSecond": runs_sorted[len(runs) // 2], "runs": runs, "threads": args.threads, "torch": torch.__version__, "batch": args.batch}
    if args.epochs:
        model = PictureCnn(args.dropout)
        optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
        loss_fn = nn.CrossEntropyLoss()
        steps_per_epoch = math.ceil(len(images) / args.batch)
        total = steps_per_epoch * args.epochs
        started = time.perf_counter()
        step = 0
        for epoch in range(args.epochs):
            model.train()
            order = rng.permutation(len(images))
            for start in range(0, len(images), args.batch):
                for group in optimizer.param_groups:
                    group["lr"] = args.lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * step / total)))
                idx = order[start:start + args.batch]
                x = make_batch(images, idx, rng, args.shift)
                optimizer.zero_grad()
                loss_fn(model(x), labels[idx]).backward()
                optimizer.step()
                step += 1
        result["trainSeconds"] = time.perf_counter() - started
        test_images = read_idx(f"{args.data}/t10k-images-idx3-ubyte.gz")
        test_labels = torch.from_numpy(read_idx(f"{args.data}/t10k-labels-idx1-ubyte.gz").astype(np.int64))
        model.eval()
        correct = 0
        with torch.no_grad():
            for start in range(0, len(test_images), 500):
                x = torch.from_numpy(test_images[start:start + 500].astype(np.float32) / 255.0).unsqueeze(1).expand(-1, 3, -1, -1)
                correct += (model(x).argmax(1) == test_labels[start:start + 500]).sum().item()
        result["epochs"] = args.epochs
        result["testAccuracy"] = correct / len(test_images)
    print(json.dumps(result))


main()
