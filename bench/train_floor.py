"""The accuracy floor a user could pick instead of our model: TF-IDF over word 1-2-grams and char_wb
2-5-grams (sublinear tf; min_df=2 for the character n-grams) with a linear SVM (LinearSVC, C=1.0).
Fits on the train split, reports on test and val.

Input: a JSONL file, one product a line: {"id": str, "split": "train"|"val"|"test", "text": str, "label": str}.
Output: one JSON line on stdout:
  {"model": "tfidf-linearsvc", "test": {"accuracy", "macroF1", "rows", "perClass"}, "val": {...},
   "fitSeconds", "vectoriseSeconds", "trainSeconds", "features", "rows": {split: n}, "classes": {label: {split: n}}}
  - fitSeconds = vectoriseSeconds (fit the vectorisers, transform train) + trainSeconds (LinearSVC fit);
  - macroF1 is over the labels that occur in the split or in its predictions (scikit-learn's default);
  - perClass[label] = {support, predicted, correct, f1}; a split without rows reports null.
--predictions PATH writes the test predictions as JSONL {"id", "predicted"}, one a line, in input order.
Without scikit-learn it prints {"model": "tfidf-linearsvc", "available": false, "reason": ...} and exits 69.

Run with Debian's python3-sklearn:
  /usr/bin/python3 bench/train_floor.py <products.jsonl> [--predictions <path>]"""
import argparse
import json
import sys
import time
from collections import Counter

MODEL = "tfidf-linearsvc"
UNAVAILABLE = 69  # EX_UNAVAILABLE

try:
    from scipy.sparse import hstack
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.svm import LinearSVC
except ImportError as error:  # the bench reports the floor as not available
    print(f"train_floor: scikit-learn is not available ({error}); install Debian's python3-sklearn", file=sys.stderr)
    print(json.dumps({"model": MODEL, "available": False, "reason": f"scikit-learn not available: {error}"}))
    sys.exit(UNAVAILABLE)

SPLITS = ("train", "val", "test")


def read_rows(path):
    rows = {split: [] for split in SPLITS}
    with open(path, encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            row = json.loads(line)
            split = row.get("split")
            if split not in rows:
                raise SystemExit(f"train_floor: {path}:{number}: split {split!r} is not one of {', '.join(SPLITS)}")
            rows[split].append((str(row["id"]), row.get("text") or "", str(row["label"])))
    return rows


def report(truth, predicted):
    if not truth:
        return None
    support, guessed = Counter(truth), Counter(predicted)
    correct = Counter(t for t, p in zip(truth, predicted) if t == p)
    labels = sorted(set(support) | set(guessed))
    per_label_f1 = f1_score(truth, predicted, labels=labels, average=None, zero_division=0)
    return {
        "accuracy": float(accuracy_score(truth, predicted)),
        "macroF1": float(f1_score(truth, predicted, labels=labels, average="macro", zero_division=0)),
        "rows": len(truth),
        "perClass": {
            label: {"support": support[label], "predicted": guessed[label], "correct": correct[label], "f1": float(f1)}
            for label, f1 in zip(labels, per_label_f1)
        },
    }


def main():
    parser = argparse.ArgumentParser(description="TF-IDF + LinearSVC accuracy floor")
    parser.add_argument("path", help="JSONL of {id, split, text, label}")
    parser.add_argument("--predictions", help="write test predictions here as JSONL {id, predicted}")
    args = parser.parse_args()

    rows = read_rows(args.path)
    train = rows["train"]
    if len({label for _, _, label in train}) < 2:
        raise SystemExit("train_floor: the train split needs at least two labels")

    words = TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True)
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2)
    classifier = LinearSVC(C=1.0, random_state=0)

    start = time.perf_counter()
    texts = [text for _, text, _ in train]
    x_train = hstack([words.fit_transform(texts), chars.fit_transform(texts)]).tocsr()
    vectorised = time.perf_counter()
    classifier.fit(x_train, [label for _, _, label in train])
    fitted = time.perf_counter()

    def predict(split_rows):
        if not split_rows:
            return []
        texts = [text for _, text, _ in split_rows]
        return [str(p) for p in classifier.predict(hstack([words.transform(texts), chars.transform(texts)]).tocsr())]

    predictions = {split: predict(rows[split]) for split in ("val", "test")}
    if args.predictions:
        with open(args.predictions, "w", encoding="utf-8") as out:
            for (row_id, _, _), predicted in zip(rows["test"], predictions["test"]):
                out.write(json.dumps({"id": row_id, "predicted": predicted}) + "\n")

    classes = {}
    for split in SPLITS:
        for label, count in Counter(label for _, _, label in rows[split]).items():
            classes.setdefault(label, {s: 0 for s in SPLITS})[split] = count
    print(json.dumps({
        "model": MODEL,
        "test": report([label for _, _, label in rows["test"]], predictions["test"]),
        "val": report([label for _, _, label in rows["val"]], predictions["val"]),
        "fitSeconds": fitted - start,
        "vectoriseSeconds": vectorised - start,
        "trainSeconds": fitted - vectorised,
        "features": int(x_train.shape[1]),
        "rows": {split: len(rows[split]) for split in SPLITS},
        "classes": dict(sorted(classes.items())),
        "sklearn": __import__("sklearn").__version__,
    }))


if __name__ == "__main__":
    main()
