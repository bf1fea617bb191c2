"""LightGBM and XGBoost on the training bench's table: the peers of cairn's gradient boosting.

Run by `cargo xtask bench train` (xtask/src/bench/train.rs) as

    python boosting.py DATA.csv ITERATIONSxLEAVES [ITERATIONSxLEAVES ...]

It reads the same CSV file as cairn's `train_bench` (header, numeric features, the integer
label last), trains on the first 80% of the rows and scores the last 20%, as `train_bench`
does, and prints one JSON document on stdout. Per size and library:
- the fit's wall and CPU time (`n_jobs=2`), of the median of 3 fits (by wall time; each
  fit makes a new model with the same seed);
- accuracy and ROC-AUC on the held-out rows;
- the median latency of `predict_proba` on one row (200 calls, a different row each time;
  Python's call overhead included: that is what a Python service pays);
- the time to score the first 100,000 rows of the file in one call;
- the size of the library's own model file (LightGBM's text model, XGBoost's UBJSON).

LightGBM: `LGBMClassifier(n_estimators=N, num_leaves=L, learning_rate=0.1, n_jobs=2)`, its
other parameters at their defaults (min_child_samples=20, min_sum_hessian_in_leaf=1e-3,
lambda_l2=0, max_bin=255). XGBoost: `XGBClassifier(tree_method="hist",
grow_policy="lossguide", max_leaves=L, max_depth=0, n_estimators=N, learning_rate=0.1,
n_jobs=2)`, leaf-wise like LightGBM and cairn. A library that cannot be imported is reported
as `null` with the import error.

Create a Python with both (any virtual environment; the bench looks for `$XTASK_PYTHON`, then
`<target dir>/bench-venv/bin/python`):

    python3 -m venv target/bench-venv
    target/bench-venv/bin/pip install numpy scikit-learn lightgbm xgboost-cpu
"""

import json
import sys
import time

import numpy as np
from sklearn.metrics import accuracy_score, roc_auc_score

BATCH_ROWS = 100_000
# Fits per size: the fit figures are the median fit's (the bench does the same on cairn's side).
FITS = 3
LATENCY_CALLS = 200


def load(path):
    data = np.loadtxt(path, delimiter=",", skiprows=1)
    return data[:, :-1], data[:, -1].astype(np.int64)


def measure(make, X, y):
    n_train = len(y) * 8 // 10
    X_train, y_train = X[:n_train], y[:n_train]
    X_test, y_test = X[n_train:], y[n_train:]
    fits = []
    for _ in range(FITS):
        clf = make()
        wall, cpu = time.perf_counter(), time.process_time()
        clf.fit(X_train, y_train)
        fits.append((time.perf_counter() - wall, time.process_time() - cpu))
    fit_wall, fit_cpu = sorted(fits)[len(fits) // 2]

    proba = clf.predict_proba(X_test)
    accuracy = accuracy_score(y_test, proba.argmax(axis=1))
    roc_auc = roc_auc_score(y_test, proba[:, 1])

    for i in range(20):
        clf.predict_proba(X_test[i : i + 1])
    latencies = []
    for i in range(LATENCY_CALLS):
        row = X_test[i : i + 1]
        start = time.perf_counter()
        clf.predict_proba(row)
        latencies.append(time.perf_counter() - start)
    latencies.sort()

    batch = X[:BATCH_ROWS]
    times = []
    for _ in range(3):
        start = time.perf_counter()
        clf.predict_proba(batch)
        times.append(time.perf_counter() - start)
    times.sort()
    return clf, {
        "fit_wall_s": fit_wall,
        "fit_cpu_s": fit_cpu,
        "fit_wall_samples_s": [wall for wall, _ in fits],
        "fits": FITS,
        "accuracy": accuracy,
        "roc_auc": roc_auc,
        "predict_one_median_us": latencies[len(latencies) // 2] * 1e6,
        "batch_rows": len(batch),
        "batch_median_s": times[1],
    }


def lightgbm_side(X, y, iterations, leaves):
    import lightgbm

    def make():
        return lightgbm.LGBMClassifier(
            n_estimators=iterations,
            num_leaves=leaves,
            learning_rate=0.1,
            n_jobs=2,
            random_state=0,
            verbose=-1,
        )

    clf, figures = measure(make, X, y)
    figures["model_bytes"] = len(clf.booster_.model_to_string().encode())
    figures["model_format"] = "LightGBM text model"
    return figures


def xgboost_side(X, y, iterations, leaves):
    import xgboost

    def make():
        return xgboost.XGBClassifier(
            n_estimators=iterations,
            max_leaves=leaves,
            max_depth=0,
            grow_policy="lossguide",
            tree_method="hist",
            learning_rate=0.1,
            n_jobs=2,
            random_state=0,
        )

    clf, figures = measure(make, X, y)
    figures["model_bytes"] = len(clf.get_booster().save_raw(raw_format="ubj"))
    figures["model_format"] = "XGBoost UBJSON"
    return figures


def version(module):
    try:
        return __import__(module).__version__, None
    except ImportError as err:
        return None, str(err)


def main():
    X, y = load(sys.argv[1])
    sides = {"lightgbm": lightgbm_side, "xgboost": xgboost_side}
    versions = {name: version(name) for name in sides}
    runs = []
    for size in sys.argv[2:]:
        iterations, leaves = (int(part) for part in size.split("x"))
        run = {"iterations": iterations, "leaves": leaves}
        for name, side in sides.items():
            run[name] = side(X, y, iterations, leaves) if versions[name][0] else None
        runs.append(run)
    print(
        json.dumps(
            {
                "python": sys.version.split()[0],
                "versions": {name: v for name, (v, _) in versions.items()},
                "missing": {name: e for name, (_, e) in versions.items() if e},
                "train_rows": len(y) * 8 // 10,
                "runs": runs,
            }
        )
    )


if __name__ == "__main__":
    main()
