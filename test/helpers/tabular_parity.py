"""The scikit-learn side of test/trainers/tabular-parity.test.ts.

For each dataset bundled with scikit-learn (nothing is downloaded): a fixed stratified split,
train.csv and test.csv in OUT_DIR/<name>/ (columns f0..fN, label), and the held-out accuracy of
standardized LogisticRegression and of MLPClassifier on exactly those test rows. Prints one JSON
object: {name: {train, test, features, classes, logistic_regression, mlp}}.

Usage: python tabular_parity.py OUT_DIR
"""

import json
import os
import sys

from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

DATASETS = {"iris": load_iris, "wine": load_wine, "breast_cancer": load_breast_cancer, "digits": load_digits}
TEST_SIZE = 0.3
SEED = 0


def write_csv(path, X, y):
    with open(path, "w") as f:
        f.write(",".join([f"f{j}" for j in range(X.shape[1])] + ["label"]) + "\n")
        for row, label in zip(X, y):
            f.write(",".join(repr(float(v)) for v in row) + f",{int(label)}\n")


def main(out_dir):
    report = {}
    for name, load in DATASETS.items():
        X, y = load(return_X_y=True)
        X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=TEST_SIZE, stratify=y, random_state=SEED)
        os.makedirs(os.path.join(out_dir, name), exist_ok=True)
        write_csv(os.path.join(out_dir, name, "train.csv"), X_train, y_train)
        write_csv(os.path.join(out_dir, name, "test.csv"), X_test, y_test)
        logreg = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000)).fit(X_train, y_train)
        mlp = make_pipeline(StandardScaler(), MLPClassifier(max_iter=1000, random_state=SEED)).fit(X_train, y_train)
        report[name] = {
            "train": len(y_train),
            "test": len(y_test),
            "features": X.shape[1],
            "classes": len(set(y.tolist())),
            "logistic_regression": logreg.score(X_test, y_test),
            "mlp": mlp.score(X_test, y_test),
        }
    print(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1])
