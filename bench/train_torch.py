"""Training throughput of our text tower written in PyTorch, the baseline for the TF.js training loop:
the same model on the same hashed TF-IDF features, on this machine's 2 cores (torch.set_num_threads(2)).

Text mode (default): JSONL input, one example a line: {"ids": [int...], "weights": [float...], "label": int},
ids hashed feature buckets in [0, buckets), weights their TF-IDF weights.
  bag      = EmbeddingBag(buckets, dim, mode='sum')(ids, per_sample_weights=weights)   init U(-0.05, 0.05)
  t        = normalize(Linear(dim, embedding)(dropout(bag)))                           glorot init, like tf.layers.dense
  logits   = Linear(embedding, classes)(t) * scale + EmbeddingBag(buckets, classes, mode='sum')(ids, weights) + bias
             (the "wide" bag: zero init, scale fixed, not trained)
  loss     = cross-entropy; Adam with dense gradients (sparse=False, as TF.js computes them); seeded shuffle.
Output, one JSON line: {"model": "torch-text-tower", "samplesPerSecond", "epochSeconds" (mean per epoch),
  "finalLoss" (mean training loss of the last epoch), "threads", "torch", "rows", "classes", "batches", ...}.
Timed: the epochs, including cutting each batch out of the loaded arrays and reading the loss back per
batch (the TF.js loop does both); not timed: reading the JSONL and building the model.

Image mode (--image): a head over cached 1280-d backbone features, on random features and labels:
  Linear(1280, 512) + ReLU + Dropout(0.2) + Linear(512, 256) + normalize + Linear(256, classes),
  --rows examples (default 4096). Output: {"model": "torch-image-head", "samplesPerSecond", ...}.

--repeat N trains N fresh models (same seed, same order) and reports the run of median samples/s; "runs"
lists every run's samples/s (the machine is shared: one run can be several times slower than the next).

Without PyTorch it prints {"model": ..., "available": false, "reason": ...} and exits 69 (EX_UNAVAILABLE).

Run with Debian's python3-torch:
  /usr/bin/python3 bench/train_torch.py <examples.jsonl> [--buckets 262144] [--dim 64] [--embedding 256]
      [--classes C] [--batch 64] [--epochs 1] [--lr 3e-3] [--scale 10] [--dropout 0] [--seed 0] [--threads 2] [--repeat 1]
  /usr/bin/python3 bench/train_torch.py --image [--rows 4096] [--features 1280] [--hidden 512] [--classes 10] ..."""
import argparse
import json
import sys
import time

UNAVAILABLE = 69  # EX_UNAVAILABLE

parser = argparse.ArgumentParser(description="PyTorch training throughput baseline")
parser.add_argument("path", nargs="?", help="JSONL of {ids, weights, label} (text mode)")
parser.add_argument("--image", action="store_true", help="measure the image head on random features instead")
parser.add_argument("--buckets", type=int, default=262144)
parser.add_argument("--dim", type=int, default=64)
parser.add_argument("--embedding", type=int, default=256)
parser.add_argument("--classes", type=int, help="default: largest label + 1 (text), 10 (image)")
parser.add_argument("--batch", type=int, default=64)
parser.add_argument("--epochs", type=int, default=1)
parser.add_argument("--lr", type=float, default=3e-3)
parser.add_argument("--scale", type=float, default=10.0, help="fixed factor on the head's logits (text mode)")
parser.add_argument("--dropout", type=float, default=0.0, help="dropout on the deep bag (text mode)")
parser.add_argument("--rows", type=int, default=4096, help="random examples (image mode)")
parser.add_argument("--features", type=int, default=1280, help="backbone feature size (image mode)")
parser.add_argument("--hidden", type=int, default=512, help="hidden units (image mode)")
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--threads", type=int, default=2)
parser.add_argument("--repeat", type=int, default=1, help="train this many fresh models; report the median run")
args = parser.parse_args()
MODEL = "torch-image-head" if args.image else "torch-text-tower"
if not args.image and not args.path:
    parser.error("text mode needs the JSONL path (or --image)")

try:
    import numpy as np
    import torch
    import torch.nn.functional as F
    from torch import nn
except ImportError as error:  # the bench reports the baseline as not available
    print(f"train_torch: PyTorch is not available ({error}); install Debian's python3-torch", file=sys.stderr)
    print(json.dumps({"model": MODEL, "available": False, "reason": f"PyTorch not available: {error}"}))
    sys.exit(UNAVAILABLE)

torch.set_num_threads(args.threads)
torch.manual_seed(args.seed)


def dense(inputs, outputs):
    """A Linear initialised like tf.layers.dense: Glorot-uniform kernel, zero bias."""
    layer = nn.Linear(inputs, outputs)
    nn.init.xavier_uniform_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


class TextTower(nn.Module):
    def __init__(self, buckets, dim, embedding, classes, scale, dropout):
        super().__init__()
        self.bag = nn.EmbeddingBag(buckets, dim, mode="sum", sparse=False)
        nn.init.uniform_(self.bag.weight, -0.05, 0.05)
        self.dropout = nn.Dropout(dropout)
        self.projection = dense(dim, embedding)
        self.head = dense(embedding, classes)
        self.wide = nn.EmbeddingBag(buckets, classes, mode="sum", sparse=False)
        nn.init.zeros_(self.wide.weight)
        self.wide_bias = nn.Parameter(torch.zeros(classes))
        self.scale = scale

    def forward(self, ids, offsets, weights):
        bag = self.bag(ids, offsets, per_sample_weights=weights)
        t = F.normalize(self.projection(self.dropout(bag)), dim=-1)
        return self.head(t) * self.scale + self.wide(ids, offsets, per_sample_weights=weights) + self.wide_bias


class ImageHead(nn.Module):
    def __init__(self, features, hidden, embedding, classes):
        super().__init__()
        self.hidden = dense(features, hidden)
        self.dropout = nn.Dropout(0.2)
        self.projection = dense(hidden, embedding)
        self.head = dense(embedding, classes)

    def forward(self, x):
        return self.head(F.normalize(self.projection(self.dropout(F.relu(self.hidden(x)))), dim=-1))


def read_examples(path, buckets):
    ids, weights, lengths, labels = [], [], [], []
    with open(path, encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            row = json.loads(line)
            if len(row["ids"]) != len(row["weights"]):
                raise SystemExit(f"train_torch: {path}:{number}: {len(row['ids'])} ids but {len(row['weights'])} weights")
            ids.extend(row["ids"])
            weights.extend(row["weights"])
            lengths.append(len(row["ids"]))
            labels.append(int(row["label"]))
    if not labels:
        raise SystemExit(f"train_torch: {path} has no examples")
    ids = np.asarray(ids, dtype=np.int64)
    if ids.size and (ids.min() < 0 or ids.max() >= buckets):
        raise SystemExit(f"train_torch: bucket ids must lie in [0, {buckets}); found {ids.min()}..{ids.max()}")
    starts = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=starts[1:])
    return ids, np.asarray(weights, dtype=np.float32), starts, np.asarray(labels, dtype=np.int64)


def train(build, batches, epochs, rows):
    """Trains --repeat fresh models (build(), seeded alike) for the epochs; batches(epoch) yields
    (inputs tuple, labels). Reports the run of median speed, and every run's samples/s."""
    runs = []
    for _ in range(args.repeat):
        torch.manual_seed(args.seed)
        runs.append(train_once(build(), batches, epochs, rows))
    runs.sort(key=lambda run: run["samplesPerSecond"])
    return {**runs[len(runs) // 2], "runs": [run["samplesPerSecond"] for run in runs]}


def train_once(model, batches, epochs, rows):
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr, eps=1e-7)  # TF.js's Adam epsilon
    model.train()
    seconds, losses, steps = [], [], 0
    for epoch in range(epochs):
        start = time.perf_counter()
        loss_sum = 0.0
        for inputs, labels in batches(epoch):
            optimizer.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(*inputs), labels)
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * labels.shape[0]
            steps += 1
        seconds.append(time.perf_counter() - start)
        losses.append(loss_sum / rows)
    return {
        "samplesPerSecond": rows * epochs / sum(seconds),
        "epochSeconds": sum(seconds) / epochs,
        "finalLoss": losses[-1],
        "epochLosses": losses,
        "steps": steps,
    }


def text_mode():
    ids, weights, starts, labels = read_examples(args.path, args.buckets)
    rows = len(labels)
    classes = args.classes or int(labels.max()) + 1
    if labels.min() < 0 or labels.max() >= classes:
        raise SystemExit(f"train_torch: labels must lie in [0, {classes}); found {labels.min()}..{labels.max()}")
    generator = torch.Generator()

    def batches(epoch):
        if epoch == 0:
            generator.manual_seed(args.seed)  # every repeat sees the same order
        order = torch.randperm(rows, generator=generator).numpy()
        for first in range(0, rows, args.batch):
            chosen = order[first:first + args.batch]
            lengths = starts[chosen + 1] - starts[chosen]
            spans = [slice(starts[row], starts[row + 1]) for row in chosen]
            offsets = np.zeros(len(chosen), dtype=np.int64)
            np.cumsum(lengths[:-1], out=offsets[1:])
            yield (
                (torch.from_numpy(np.concatenate([ids[s] for s in spans])), torch.from_numpy(offsets),
                 torch.from_numpy(np.concatenate([weights[s] for s in spans]))),
                torch.from_numpy(labels[chosen]),
            )

    build = lambda: TextTower(args.buckets, args.dim, args.embedding, classes, args.scale, args.dropout)
    result = train(build, batches, args.epochs, rows)
    return {
        "rows": rows, "classes": classes, "featuresPerRow": float((starts[1:] - starts[:-1]).mean()),
        "buckets": args.buckets, "dim": args.dim, "embedding": args.embedding, "scale": args.scale, "dropout": args.dropout,
        **result,
    }


def image_mode():
    classes = args.classes or 10
    generator = torch.Generator().manual_seed(args.seed)
    features = torch.randn(args.rows, args.features, generator=generator)
    labels = torch.randint(0, classes, (args.rows,), generator=generator)
    build = lambda: ImageHead(args.features, args.hidden, args.embedding, classes)

    def batches(epoch):
        if epoch == 0:
            generator.manual_seed(args.seed + 1)
        order = torch.randperm(args.rows, generator=generator)
        for first in range(0, args.rows, args.batch):
            chosen = order[first:first + args.batch]
            yield (features[chosen],), labels[chosen]

    result = train(build, batches, args.epochs, args.rows)
    return {"rows": args.rows, "classes": classes, "features": args.features, "hidden": args.hidden, "embedding": args.embedding, **result}


measured = image_mode() if args.image else text_mode()
print(json.dumps({
    "model": MODEL,
    "available": True,
    **{key: measured.pop(key) for key in ("samplesPerSecond", "epochSeconds", "finalLoss")},
    "threads": torch.get_num_threads(),
    "torch": torch.__version__,
    "batch": args.batch, "epochs": args.epochs, "lr": args.lr,
    **measured,
}))
