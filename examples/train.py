"""A small, real training script: logistic regression by gradient descent, standard library only.

It runs the same on Azure ML and on the local Azure ML service that ships with the action:
metrics go through `azureml.core.Run`, the model goes to ./outputs (collected as run artifacts).
Outside Azure ML (plain `python train.py`) it still runs and prints what it would log.
"""
import argparse
import json
import math
import os
import random

try:
    from azureml.core import Run
    run = Run.get_context()
except ImportError:  # plain python, no Azure ML SDK
    class _PrintRun:
        def log(self, name, value, description=""):
            print(f"metric {name} = {value}")
    run = _PrintRun()


def make_dataset(n, seed):
    """Two Gaussian blobs; label 1 when x0 + x1 > 1 (with some noise)."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        x0, x1 = rng.gauss(0.5, 0.6), rng.gauss(0.5, 0.6)
        label = 1 if x0 + x1 + rng.gauss(0, 0.2) > 1 else 0
        rows.append(((x0, x1), label))
    return rows


def predict(w, b, x):
    z = w[0] * x[0] + w[1] * x[1] + b
    return 1 / (1 + math.exp(-z))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--learning-rate", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    data = make_dataset(400, args.seed)
    split = int(len(data) * 0.8)
    train, test = data[:split], data[split:]
    w, b = [0.0, 0.0], 0.0
    print(f"Training on {len(train)} rows, testing on {len(test)}; epochs={args.epochs} lr={args.learning_rate}")
    run.log("learning_rate", args.learning_rate)

    for epoch in range(1, args.epochs + 1):
        grad_w, grad_b, loss = [0.0, 0.0], 0.0, 0.0
        for x, y in train:
            p = predict(w, b, x)
            loss -= y * math.log(p + 1e-12) + (1 - y) * math.log(1 - p + 1e-12)
            grad_w[0] += (p - y) * x[0]
            grad_w[1] += (p - y) * x[1]
            grad_b += p - y
        n = len(train)
        w = [w[0] - args.learning_rate * grad_w[0] / n, w[1] - args.learning_rate * grad_w[1] / n]
        b -= args.learning_rate * grad_b / n
        run.log("loss", round(loss / n, 6))
        print(f"epoch {epoch:3d}  loss {loss / n:.4f}")

    accuracy = sum(1 for x, y in test if (predict(w, b, x) > 0.5) == (y == 1)) / len(test)
    run.log("accuracy", round(accuracy, 4))
    print(f"Test accuracy: {accuracy:.4f}")

    os.makedirs("outputs", exist_ok=True)
    with open(os.path.join("outputs", "model.json"), "w") as f:
        json.dump({"weights": w, "bias": b, "features": ["x0", "x1"]}, f, indent=2)
    print("Saved outputs/model.json")


if __name__ == "__main__":
    main()
