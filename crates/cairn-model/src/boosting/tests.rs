use std::collections::BTreeMap;

use cairn_core::models::Algorithm;
use cairn_core::rng::Rng;
use serde_json::{Value, json};

use super::bins::HIST_BINS;
use super::*;
use crate::estimator::{self, Fitted, Target};

/// A seeded table: `n` rows of 4 features; class 1 when `x0 + x1 > 0` (with 5% of labels
/// flipped), and a target value `3 x0 - 2 x1 + noise`. `x2` is noise; `x3` is missing (NaN)
/// on a third of the rows, and missing exactly when it matters: those rows are class 1.
fn table(n: usize, seed: u64) -> (Matrix, Vec<u32>, Vec<f64>) {
    let mut rng = Rng::new(seed);
    let mut unit = move || (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    let mut columns: Vec<Vec<f64>> = (0..4).map(|_| Vec::with_capacity(n)).collect();
    let (mut classes, mut values) = (Vec::new(), Vec::new());
    for _ in 0..n {
        let x0 = unit() * 4.0 - 2.0;
        let x1 = unit() * 4.0 - 2.0;
        let x2 = unit();
        let missing = unit() < 1.0 / 3.0;
        let mut class = u32::from(x0 + x1 > 0.0 || missing);
        if unit() < 0.05 {
            class = 1 - class;
        }
        columns[0].push(x0);
        columns[1].push(x1);
        columns[2].push(x2);
        columns[3].push(if missing { f64::NAN } else { unit() });
        classes.push(class);
        values.push(3.0 * x0 - 2.0 * x1 + (unit() - 0.5) * 0.2);
    }
    (Matrix::new(columns), classes, values)
}

fn accuracy(model: &Booster, x: &Matrix, y: &[u32]) -> f64 {
    let mut p = vec![0.0; model.n_classes()];
    let correct = (0..x.rows)
        .filter(|&i| {
            model.predict_proba_into(&x.row(i), &mut p);
            crate::metrics::argmax(&p) == y[i] as usize
        })
        .count();
    correct as f64 / x.rows as f64
}

#[test]
fn a_binary_classifier_learns_and_uses_missing_values() {
    let (x, y, _) = table(3000, 1);
    let (test_x, test_y, _) = table(1000, 2);
    let model = Booster::fit_classifier(&x, &y, 2, &BoostParams::default(), &|_| {}).unwrap();
    assert_eq!(model.loss(), Loss::LogLoss);
    assert_eq!(model.trees().len(), 100);
    let acc = accuracy(&model, &test_x, &test_y);
    // 5% of labels are flipped: 0.95 is the best possible.
    assert!(acc > 0.91, "accuracy {acc}");
    // A row whose only signal is a missing x3 is class 1; the same row with x3 present is not.
    let mut p = [0.0; 2];
    model.predict_proba_into(&[-1.5, -1.5, 0.5, f64::NAN], &mut p);
    assert!(p[1] > 0.8, "{p:?}");
    model.predict_proba_into(&[-1.5, -1.5, 0.5, 0.5], &mut p);
    assert!(p[1] < 0.2, "{p:?}");
    // The noise feature gains least.
    let imp = model.importances();
    assert!(
        imp[2] < imp[0] && imp[2] < imp[1] && imp[2] < imp[3],
        "{imp:?}"
    );
}

#[test]
fn a_multiclass_classifier_gives_probabilities() {
    let (x, _, v) = table(2000, 3);
    let y: Vec<u32> = v
        .iter()
        .map(|v| u32::from(*v > -1.0) + u32::from(*v > 1.0))
        .collect();
    let params = BoostParams {
        n_iterations: 40,
        ..BoostParams::default()
    };
    let model = Booster::fit_classifier(&x, &y, 3, &params, &|_| {}).unwrap();
    assert_eq!(model.loss(), Loss::Softmax { n_classes: 3 });
    assert_eq!(model.trees().len(), 120);
    let mut p = [0.0; 3];
    model.predict_proba_into(&x.row(0), &mut p);
    assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    assert!(accuracy(&model, &x, &y) > 0.9);
}

#[test]
fn regressors_fit_the_mean_and_the_median() {
    let (x, _, y) = table(2000, 4);
    let variance = {
        let mean = y.iter().sum::<f64>() / y.len() as f64;
        y.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / y.len() as f64
    };
    for loss in [Loss::SquaredError, Loss::AbsoluteError] {
        let model = Booster::fit_regressor(&x, &y, loss, &BoostParams::default(), &|_| {}).unwrap();
        let mse = (0..x.rows)
            .map(|i| (model.predict(&x.row(i)) - y[i]).powi(2))
            .sum::<f64>()
            / x.rows as f64;
        assert!(
            mse < variance * 0.05,
            "{loss:?}: mse {mse}, variance {variance}"
        );
    }
}

/// The bytes of a model fitted inside a pool of `threads` threads.
fn bytes_in_pool(threads: usize, params: &BoostParams, classes: usize) -> Vec<u8> {
    let (x, y, v) = table(3000, 5);
    let y: Vec<u32> = if classes == 2 {
        y
    } else {
        v.iter()
            .map(|v| u32::from(*v > -1.0) + u32::from(*v > 1.0))
            .collect()
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    let model = pool
        .install(|| Booster::fit_classifier(&x, &y, classes, params, &|_| {}))
        .unwrap();
    postcard::to_stdvec(&model).unwrap()
}

#[test]
fn the_same_seed_gives_the_same_bytes_at_any_thread_count() {
    let params = BoostParams {
        n_iterations: 30,
        subsample: 0.7,
        colsample: 0.5,
        early_stopping: Some(EarlyStopping {
            rounds: 5,
            share: 0.2,
        }),
        seed: 7,
        ..BoostParams::default()
    };
    for classes in [2, 3] {
        let one = bytes_in_pool(1, &params, classes);
        assert_eq!(one, bytes_in_pool(2, &params, classes), "{classes} classes");
        assert_eq!(one, bytes_in_pool(3, &params, classes), "{classes} classes");
    }
    // And the seed matters.
    let other = BoostParams {
        seed: 8,
        ..params.clone()
    };
    assert_ne!(bytes_in_pool(2, &params, 2), bytes_in_pool(2, &other, 2));
}

#[test]
fn early_stopping_keeps_the_best_iteration() {
    // Pure noise labels: the held-out loss stops improving early.
    let (x, _, _) = table(1000, 6);
    let mut rng = Rng::new(9);
    let y: Vec<u32> = (0..x.rows).map(|_| (rng.next_u64() & 1) as u32).collect();
    let params = BoostParams {
        n_iterations: 500,
        early_stopping: Some(EarlyStopping {
            rounds: 10,
            share: 0.2,
        }),
        ..BoostParams::default()
    };
    let model = Booster::fit_classifier(&x, &y, 2, &params, &|_| {}).unwrap();
    let s = model.summary();
    assert!(s.early_stopped, "{s:?}");
    assert_eq!(s.iterations_run, s.best_iteration + 10);
    assert_eq!(model.trees().len(), s.best_iteration);
    assert_eq!(s.validation_rows, 200);
    assert!(s.validation_loss.is_some());
}

#[test]
fn num_leaves_and_max_depth_bound_the_trees() {
    let (x, y, _) = table(2000, 10);
    let params = BoostParams {
        n_iterations: 5,
        num_leaves: 7,
        ..BoostParams::default()
    };
    let model = Booster::fit_classifier(&x, &y, 2, &params, &|_| {}).unwrap();
    assert!(model.trees().iter().all(|t| t.n_leaves() <= 7));
    assert!(model.trees().iter().any(|t| t.n_leaves() == 7));
    let params = BoostParams {
        max_depth: Some(1),
        ..params
    };
    let model = Booster::fit_classifier(&x, &y, 2, &params, &|_| {}).unwrap();
    assert!(model.trees().iter().all(|t| t.n_leaves() <= 2));
}

fn fit(
    algorithm: Algorithm,
    params: Value,
    x: &Matrix,
    target: Target<'_>,
) -> Result<Fitted, FitError> {
    let params: BTreeMap<String, Value> = serde_json::from_value(params).unwrap();
    estimator::fit(algorithm, &params, 0, x, target, &|_, _| {}).map(|(f, _)| f)
}

fn param_name(e: FitError) -> String {
    match e {
        FitError::Param { name, .. } => name,
        FitError::Data(m) => panic!("a data error, not a param error: {m}"),
    }
}

fn data_message(e: FitError) -> String {
    match e {
        FitError::Data(m) => m,
        FitError::Param { name, .. } => panic!("a param error ({name}), not a data error"),
    }
}

#[test]
fn params_out_of_range_name_the_field() {
    let (x, y, v) = table(100, 11);
    let classes = Target::Classes {
        y: &y,
        n_classes: 2,
    };
    let clf = Algorithm::GradientBoostingClassifier;
    for (params, name) in [
        (json!({"learning_rate": 0}), "learning_rate"),
        (json!({"learning_rate": -0.1}), "learning_rate"),
        (json!({"num_leaves": 1}), "num_leaves"),
        (json!({"subsample": 0}), "subsample"),
        (json!({"subsample": 1.5}), "subsample"),
        (json!({"colsample": 0}), "colsample"),
        (json!({"n_iterations": 0}), "n_iterations"),
        (json!({"max_bins": 256}), "max_bins"),
        (json!({"max_depth": 0}), "max_depth"),
        (json!({"l2": -1}), "l2"),
        (
            json!({"early_stopping": {"rounds": 0}}),
            "early_stopping.rounds",
        ),
        (
            json!({"early_stopping": {"share": 1.0}}),
            "early_stopping.share",
        ),
        (
            json!({"early_stopping": {"patience": 3}}),
            "early_stopping.patience",
        ),
        (json!({"early_stopping": 3}), "early_stopping"),
        (json!({"loss": "squared_error"}), "loss"),
    ] {
        let e = fit(clf, params.clone(), &x, classes).unwrap_err();
        assert_eq!(param_name(e), name, "{params}");
    }
    let e = fit(
        Algorithm::GradientBoostingRegressor,
        json!({"loss": "huber"}),
        &x,
        Target::Values(&v),
    )
    .unwrap_err();
    assert_eq!(param_name(e), "loss");
}

#[test]
fn early_stopping_without_enough_rows_names_the_share() {
    // 10% of 5 rows is no row at all.
    let (x, _, _) = table(5, 12);
    let e = fit(
        Algorithm::GradientBoostingClassifier,
        json!({"early_stopping": {"rounds": 5, "share": 0.1}}),
        &x,
        Target::Classes {
            y: &[0, 1, 0, 1, 1],
            n_classes: 2,
        },
    )
    .unwrap_err();
    assert_eq!(param_name(e), "early_stopping.share");
}

#[test]
fn bad_targets_are_refused() {
    let (x, _, mut v) = table(50, 13);
    let clf = Algorithm::GradientBoostingClassifier;
    let one_class = vec![1u32; 50];
    let m = data_message(
        fit(
            clf,
            json!({}),
            &x,
            Target::Classes {
                y: &one_class,
                n_classes: 2,
            },
        )
        .unwrap_err(),
    );
    assert!(m.contains("single class"), "{m}");
    let no_class_2: Vec<u32> = (0..50).map(|i| (i % 2) as u32).collect();
    let m = data_message(
        fit(
            clf,
            json!({}),
            &x,
            Target::Classes {
                y: &no_class_2,
                n_classes: 3,
            },
        )
        .unwrap_err(),
    );
    assert!(m.contains("class 2 has no training rows"), "{m}");
    v[7] = f64::NAN;
    let m = data_message(
        fit(
            Algorithm::GradientBoostingRegressor,
            json!({}),
            &x,
            Target::Values(&v),
        )
        .unwrap_err(),
    );
    assert!(m.contains("non-finite value (NaN) at row 7"), "{m}");
}

#[test]
fn the_params_used_are_recorded_with_their_defaults() {
    let (x, _, v) = table(200, 14);
    let params: BTreeMap<String, Value> =
        serde_json::from_value(json!({"early_stopping": {"rounds": 3}, "num_leaves": 4})).unwrap();
    let (fitted, used) = estimator::fit(
        Algorithm::GradientBoostingRegressor,
        &params,
        0,
        &x,
        Target::Values(&v),
        &|_, _| {},
    )
    .unwrap();
    assert_eq!(used["early_stopping"], json!({"rounds": 3, "share": 0.1}));
    assert_eq!(used["num_leaves"], json!(4));
    assert_eq!(used["loss"], json!("squared_error"));
    assert_eq!(used["max_depth"], json!("none"));
    assert_eq!(used.len(), 12);
    let booster = fitted.booster().unwrap();
    assert_eq!(booster.summary().validation_rows, 20);
}

#[test]
fn a_damaged_model_is_refused_when_read() {
    let (x, y, _) = table(300, 15);
    let params = BoostParams {
        n_iterations: 3,
        ..BoostParams::default()
    };
    let model = Booster::fit_classifier(&x, &y, 2, &params, &|_| {}).unwrap();
    let bytes = postcard::to_stdvec(&model).unwrap();
    let back: Booster = postcard::from_bytes(&bytes).unwrap();
    assert_eq!(back, model);
    // A child pointing back at its parent would loop.
    let mut bad = model.clone();
    bad.trees[0].nodes[0].children[1] = 0;
    let bytes = postcard::to_stdvec(&bad).unwrap();
    assert!(postcard::from_bytes::<Booster>(&bytes).is_err());
    // A split on a feature the model does not have.
    let mut bad = model;
    bad.n_features = 2;
    bad.importances.truncate(2);
    let bytes = postcard::to_stdvec(&bad).unwrap();
    assert!(postcard::from_bytes::<Booster>(&bytes).is_err());
}

#[test]
fn batch_predictions_equal_row_predictions() {
    let (x, y, v) = table(700, 16);
    let three: Vec<u32> = v
        .iter()
        .map(|v| u32::from(*v > -1.0) + u32::from(*v > 1.0))
        .collect();
    let params = BoostParams {
        n_iterations: 20,
        ..BoostParams::default()
    };
    for (labels, classes) in [(&y, 2), (&three, 3)] {
        let model = Booster::fit_classifier(&x, labels, classes, &params, &|_| {}).unwrap();
        let batch = model.predict_proba_batch(&x);
        let mut p = vec![0.0; classes];
        for i in 0..x.rows {
            model.predict_proba_into(&x.row(i), &mut p);
            assert_eq!(p, batch[i * classes..(i + 1) * classes], "row {i}");
        }
    }
    let model = Booster::fit_regressor(&x, &v, Loss::SquaredError, &params, &|_| {}).unwrap();
    let batch = model.raw_batch(&x);
    for (i, value) in batch.iter().enumerate() {
        assert_eq!(model.predict(&x.row(i)), *value, "row {i}");
    }
}

/// Rows that sit on the model's thresholds, just beside them, at ±0, ±∞ and missing, on
/// every feature, next to the table's own rows.
fn edge_rows(model: &Booster, x: &Matrix) -> Matrix {
    let mut columns = x.columns.clone();
    let mut extra: Vec<Vec<f64>> = vec![Vec::new(); model.n_features()];
    for tree in model.trees() {
        for node in &tree.nodes {
            let t = node.threshold;
            for v in [t, t.next_down(), t.next_up(), -t] {
                for (f, column) in extra.iter_mut().enumerate() {
                    // The threshold's feature takes the edge value; the others cycle through
                    // the awkward ones.
                    column.push(if f == node.feature as usize {
                        v
                    } else {
                        [0.0, -0.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY][column.len() % 5]
                    });
                }
            }
        }
    }
    for (column, more) in columns.iter_mut().zip(extra) {
        column.extend(more);
    }
    Matrix::new(columns)
}

/// Asserts that `model` is compiled and that, on `rows`, it gives the bits its trees give
/// walked one by one, one row at a time and in a batch.
fn assert_compiled_bits(model: &Booster, rows: &Matrix) {
    assert!(model.compiled.is_some(), "the model is compiled");
    let mut walked = model.clone();
    walked.compiled = None;
    let k = model.base.len();
    let (batch, walked_batch) = (model.raw_batch(rows), walked.raw_batch(rows));
    let (mut one, mut walked_one) = (vec![0.0; k], vec![0.0; k]);
    // Bits, not values: NaN scores (none expected) would fail too.
    let bits = |s: &[f64]| s.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    for i in 0..rows.rows {
        let row = rows.row(i);
        model.raw_into(&row, &mut one);
        walked.raw_into(&row, &mut walked_one);
        assert_eq!(bits(&one), bits(&walked_one), "row {i}: {row:?}");
        assert_eq!(bits(&one), bits(&batch[i * k..(i + 1) * k]), "row {i}");
        assert_eq!(
            bits(&one),
            bits(&walked_batch[i * k..(i + 1) * k]),
            "row {i}"
        );
    }
    // Read back from its bytes, the model is compiled again, the same way.
    let read: Booster = postcard::from_bytes(&postcard::to_stdvec(model).unwrap()).unwrap();
    assert_eq!(&read, model);
}

#[test]
fn compiled_trees_predict_the_bits_the_trees_do() {
    let (x, y, v) = table(1500, 21);
    let three: Vec<u32> = v
        .iter()
        .map(|v| u32::from(*v > -1.0) + u32::from(*v > 1.0))
        .collect();
    // 30 and 90 trees: groups of trees walked side by side and a remainder walked alone.
    let params = BoostParams {
        n_iterations: 30,
        num_leaves: 15,
        ..BoostParams::default()
    };
    let models = [
        Booster::fit_classifier(&x, &y, 2, &params, &|_| {}).unwrap(),
        Booster::fit_classifier(&x, &three, 3, &params, &|_| {}).unwrap(),
        Booster::fit_regressor(&x, &v, Loss::SquaredError, &params, &|_| {}).unwrap(),
    ];
    for model in models {
        let rows = edge_rows(&model, &x);
        // Two blocks of the batch at least, the last one partial.
        let block = compiled::BLOCK;
        assert!(
            rows.rows > block && !rows.rows.is_multiple_of(block),
            "{} rows",
            rows.rows
        );
        assert_compiled_bits(&model, &rows);
    }
}

#[test]
fn compiled_trees_send_missing_values_either_way() {
    let (x, y, _) = table(1500, 23);
    let params = BoostParams {
        n_iterations: 12,
        num_leaves: 15,
        ..BoostParams::default()
    };
    let fitted = Booster::fit_classifier(&x, &y, 2, &params, &|_| {}).unwrap();
    // Every other split of every feature sends missing values the other way; the model is
    // compiled again when it is read.
    let mut model = fitted.clone();
    let mut seen = vec![0usize; fitted.n_features()];
    for node in model.trees.iter_mut().flat_map(|t| &mut t.nodes) {
        node.default_left ^= seen[node.feature as usize].is_multiple_of(2);
        seen[node.feature as usize] += 1;
    }
    let model: Booster = postcard::from_bytes(&postcard::to_stdvec(&model).unwrap()).unwrap();
    let mut both = 0;
    for f in 0..model.n_features() {
        let sides: Vec<bool> = model
            .trees()
            .iter()
            .flat_map(|t| &t.nodes)
            .filter(|n| n.feature as usize == f)
            .map(|n| n.default_left)
            .collect();
        if sides.len() >= 2 {
            assert!(
                sides.contains(&true) && sides.contains(&false),
                "feature {f}"
            );
            both += 1;
        }
    }
    assert!(both >= 2, "features split more than once: {both}");
    assert_ne!(
        fitted.raw_batch(&x),
        model.raw_batch(&x),
        "the flips matter"
    );
    assert_compiled_bits(&model, &edge_rows(&model, &x));
}

#[test]
fn large_trees_and_trees_without_splits_are_compiled_too() {
    let (x, y, v) = table(3000, 24);
    // Trees of more than 256 nodes: the batch walks them row by row.
    let params = BoostParams {
        n_iterations: 3,
        num_leaves: 400,
        min_samples_leaf: 1,
        ..BoostParams::default()
    };
    let model = Booster::fit_regressor(&x, &v, Loss::SquaredError, &params, &|_| {}).unwrap();
    let sizes: Vec<usize> = model.trees().iter().map(|t| 2 * t.n_leaves() - 1).collect();
    assert!(sizes.iter().any(|&n| n > 256), "{sizes:?}");
    assert_compiled_bits(&model, &edge_rows(&model, &x));
    // No split can keep 2,000 rows on each side: every tree is one leaf.
    let params = BoostParams {
        n_iterations: 10,
        min_samples_leaf: 2000,
        ..BoostParams::default()
    };
    let model = Booster::fit_classifier(&x, &y, 2, &params, &|_| {}).unwrap();
    assert!(model.trees().iter().all(|t| t.nodes.is_empty()));
    assert_compiled_bits(&model, &x);
}

#[test]
fn a_model_with_too_many_thresholds_is_not_compiled() {
    let (x, y, _) = table(500, 22);
    let params = BoostParams {
        n_iterations: 5,
        ..BoostParams::default()
    };
    let model = Booster::fit_classifier(&x, &y, 2, &params, &|_| {}).unwrap();
    let most = (0..model.n_features())
        .map(|f| {
            let mut t: Vec<f64> = model
                .trees()
                .iter()
                .flat_map(|tree| &tree.nodes)
                .filter(|n| n.feature as usize == f)
                .map(|n| n.threshold)
                .collect();
            t.sort_by(f64::total_cmp);
            t.dedup();
            t.len()
        })
        .max()
        .unwrap();
    assert!(most > 1);
    let trees = model.trees();
    assert!(compiled::Compiled::with_limit(trees, model.n_features(), most).is_some());
    assert!(compiled::Compiled::with_limit(trees, model.n_features(), most - 1).is_none());

    // A model read with one threshold more per feature than a code can tell apart is walked,
    // and predicts as its trees do.
    let params = BoostParams {
        n_iterations: 40,
        num_leaves: 15,
        ..BoostParams::default()
    };
    let mut model = Booster::fit_classifier(&x, &y, 2, &params, &|_| {}).unwrap();
    let mut n = 0;
    for node in model.trees.iter_mut().flat_map(|t| &mut t.nodes) {
        node.feature = 0;
        node.threshold = n as f64 / 1000.0;
        n += 1;
    }
    assert!(n > compiled::MAX_CUTS, "{n} splits");
    let read: Booster = postcard::from_bytes(&postcard::to_stdvec(&model).unwrap()).unwrap();
    assert!(read.compiled.is_none());
    let batch = read.raw_batch(&x);
    let mut one = [0.0];
    for (i, score) in batch.iter().enumerate() {
        read.raw_into(&x.row(i), &mut one);
        assert_eq!(one[0].to_bits(), score.to_bits(), "row {i}");
    }
}

/// A grower of `num_leaves` leaves of at least `min_samples_leaf` rows, LightGBM's other
/// defaults.
fn grower(bins: &Bins, num_leaves: usize, min_samples_leaf: usize) -> Grower<'_> {
    Grower {
        bins,
        num_leaves,
        max_depth: None,
        min_samples_leaf,
        min_gain: 0.0,
        l2: 0.0,
        learning_rate: 0.1,
    }
}

#[test]
fn partition_leaf_values_equal_walking_the_tree() {
    // The fit adds a grown tree's leaf values to the training scores from the row partition;
    // that must be what walking the tree gives, on binned codes and on the raw values. Enough
    // rows that the root's partition and the score update run in several blocks.
    let (x, y, _) = table(40_000, 21);
    let all: Vec<u32> = (0..x.rows as u32).collect();
    let bins = Bins::new(&x, &all, 255);
    let gh: Vec<[f64; 2]> = y.iter().map(|&c| [0.5 - f64::from(c), 0.25]).collect();
    let grower = grower(&bins, 15, 5);
    let some: Vec<u32> = all.iter().copied().filter(|r| r % 3 != 0).collect();
    for (drawn, features) in [(&all, vec![0, 1, 2, 3]), (&some, vec![0, 1, 3])] {
        let grown = grower.grow(drawn.clone(), &gh, &features, &mut Buffers::default());
        assert_eq!(grown.tree.values.len(), 15);
        let mut scores = vec![0.0; x.rows];
        grown.add_leaf_values(&mut scores);
        for (r, &score) in scores.iter().enumerate() {
            let walked = predict_binned(&grown, &bins, r);
            assert_eq!(walked, grown.tree.predict(&x.row(r)), "row {r}");
            if drawn.binary_search(&(r as u32)).is_ok() {
                assert_eq!(score, walked, "row {r}");
            } else {
                assert_eq!(score, 0.0, "row {r}");
            }
        }
    }
}

#[test]
fn histograms_over_rows_without_a_gap_are_those_over_their_indices() {
    // `fill` reads rows without a gap (a root without subsampling) straight through, other
    // rows by index: both must give each feature's sums in row order, as a sum by hand does.
    let (x, y, _) = table(5_000, 24);
    let all: Vec<u32> = (0..x.rows as u32).collect();
    let bins = Bins::new(&x, &all, 255);
    let gh: Vec<[f64; 2]> = y
        .iter()
        .enumerate()
        .map(|(i, &c)| [f64::from(c) - 0.4 + (i % 11) as f64 * 0.003, 0.24])
        .collect();
    let grower = grower(&bins, 2, 1);
    let middle: Vec<u32> = (123..4_321).collect();
    let gaps: Vec<u32> = all.iter().copied().filter(|r| r % 5 != 2).collect();
    for rows in [&all, &middle, &gaps] {
        for features in [vec![0, 1, 2, 3], vec![1, 3]] {
            let mut by_hand = vec![0.0; bins.hist_len];
            for &r in rows {
                let [g, h] = gh[r as usize];
                for &f in &features {
                    let code = usize::from(bins.row(r as usize)[f]);
                    let at = (f * HIST_BINS + code) * 3;
                    by_hand[at] += g;
                    by_hand[at + 1] += h;
                    by_hand[at + 2] += 1.0;
                }
            }
            for per_thread in [1, 2] {
                // Every slot written: `fill` zeroes only the slots a code can reach.
                let mut hist = vec![f64::NAN; bins.hist_len];
                for (f, slots) in hist.chunks_mut(HIST_BINS * 3).enumerate() {
                    if features.contains(&f) {
                        slots[(bins.n_bins[f] + 1) * 3..].fill(0.0);
                    } else {
                        slots.fill(0.0);
                    }
                }
                for (group, part) in grower.groups(&mut hist, &features, per_thread) {
                    grower.fill(group, part, rows, &gh);
                }
                let bits = |h: &[f64]| h.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&hist), bits(&by_hand), "{} rows", rows.len());
            }
        }
    }
}

#[test]
fn a_grown_tree_is_the_same_at_any_thread_count() {
    // The partition runs in blocks of rows and the split search in groups of features on
    // several threads from a large leaf on: the tree, its rows and their order per leaf must
    // not depend on the thread count.
    let (x, y, _) = table(40_000, 22);
    let all: Vec<u32> = (0..x.rows as u32).collect();
    let bins = Bins::new(&x, &all, 255);
    let gh: Vec<[f64; 2]> = y
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            [
                f64::from(c) - 0.3 - (i % 7) as f64 * 0.01,
                0.2 + (i % 5) as f64 * 0.01,
            ]
        })
        .collect();
    let grower = grower(&bins, 31, 20);
    let some: Vec<u32> = all.iter().copied().filter(|r| r % 3 != 0).collect();
    for (drawn, features) in [(&all, vec![0, 1, 2, 3]), (&some, vec![0, 2, 3])] {
        let grown_in = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                // Buffers reused from a tree grown on other gradients first.
                let mut buffers = Buffers::default();
                let other: Vec<[f64; 2]> = gh.iter().map(|&[g, h]| [-g, h]).collect();
                grower.grow(drawn.clone(), &other, &features, &mut buffers);
                let grown = grower.grow(drawn.clone(), &gh, &features, &mut buffers);
                let mut scores = vec![0.5; x.rows];
                grown.add_leaf_values(&mut scores);
                (
                    postcard::to_stdvec(&grown.tree).unwrap(),
                    grown.rows,
                    grown.leaf_ranges,
                    scores,
                )
            })
        };
        let one = grown_in(1);
        assert_eq!(one.2.len(), 31);
        // Every leaf's rows ascending: the partition kept their order.
        for &(lo, hi) in &one.2 {
            assert!(one.1[lo..hi].windows(2).all(|w| w[0] < w[1]));
        }
        assert_eq!(one, grown_in(2));
        assert_eq!(one, grown_in(3));
    }
}
