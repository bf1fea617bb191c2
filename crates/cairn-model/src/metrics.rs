//! Evaluation metrics, defined as scikit-learn 1.9 defines them (the tests pin scikit-learn's
//! values). Everything here is serde-serializable: the run record stores it as JSON, so no
//! field is ever NaN or infinite (see each function for the degenerate cases).

use cairn_core::models::Metric;
use serde::{Deserialize, Serialize};

/// The clipping bound of [`ClassificationMetrics::log_loss`]: probabilities are clipped to
/// `[EPS, 1 - EPS]` with `EPS = f64::EPSILON` (2.2e-16), as scikit-learn ≥ 1.5 does for float64
/// input. (scikit-learn before 1.3 clipped at 1e-15 by default; that gives a smaller loss only
/// when a true class has probability below 1e-15.)
pub const LOG_LOSS_EPS: f64 = f64::EPSILON;

/// Precision, recall and F1 of one class, treated as the positive class against all others.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassReport {
    /// True positives / predicted positives; 0 when the class is never predicted
    /// (scikit-learn's `zero_division=0`).
    pub precision: f64,
    /// True positives / actual positives; 0 when the class never occurs.
    pub recall: f64,
    /// `2·tp / (actual + predicted)` (the harmonic mean of precision and recall); 0 when both
    /// counts are 0.
    pub f1: f64,
    /// The number of rows whose true class is this one.
    pub support: u64,
}

/// Metrics of a classifier's probabilities against the true labels.
///
/// The predicted class of a row is the argmax of its probabilities, the lowest class on ties
/// (see [`argmax`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassificationMetrics {
    /// The fraction of rows whose predicted class is the true one.
    pub accuracy: f64,
    /// Two classes: the precision of class 1 (the positive class). More classes: the macro
    /// average, the unweighted mean over the classes that occur in the true or the predicted
    /// labels (scikit-learn's `average="macro"` without `labels`).
    pub precision: f64,
    /// As `precision`: class 1's recall, or the macro average.
    pub recall: f64,
    /// As `precision`: class 1's F1, or the macro average of the per-class F1 (not the F1 of
    /// the averaged precision and recall).
    pub f1: f64,
    /// Area under the ROC curve, with tied scores counted half (the trapezoid rule, as
    /// scikit-learn). Two classes: of the probability of class 1. More classes: the macro
    /// average of each class against the rest, from that class's probability (scikit-learn's
    /// `multi_class="ovr", average="macro"`). `None` when any class `0..n_classes` is absent
    /// from the true labels (scikit-learn raises an error there) or with fewer than two classes.
    pub roc_auc: Option<f64>,
    /// Mean negative log probability of the true class, probabilities clipped to
    /// `[LOG_LOSS_EPS, 1 - LOG_LOSS_EPS]` (rows are not renormalised).
    pub log_loss: f64,
    /// `confusion[true][predicted]` row counts, `n_classes × n_classes`.
    pub confusion: Vec<Vec<u64>>,
    /// One report per class `0..n_classes`.
    pub per_class: Vec<ClassReport>,
}

/// Classification metrics of `proba` (row-major, `y_true.len() × n_classes`) against `y_true`.
///
/// With no rows, every ratio is 0, the log loss is 0 and `roc_auc` is `None` (scikit-learn
/// raises an error).
///
/// # Panics
/// If `proba.len() != y_true.len() * n_classes` or a label is not below `n_classes`: both are
/// caller bugs (the labels and the probabilities come from the same encoding).
pub fn classification(y_true: &[u32], proba: &[f64], n_classes: usize) -> ClassificationMetrics {
    assert_eq!(
        proba.len(),
        y_true.len() * n_classes,
        "proba must hold n_classes probabilities per row"
    );
    if let Some(&label) = y_true.iter().find(|&&y| y as usize >= n_classes) {
        panic!("label {label} is not below n_classes = {n_classes}");
    }
    let n = y_true.len();
    let rows = || proba.chunks_exact(n_classes.max(1)).take(n);

    let mut confusion = vec![vec![0u64; n_classes]; n_classes];
    let mut correct = 0u64;
    let mut log_loss = 0.0;
    for (&truth, row) in y_true.iter().zip(rows()) {
        let predicted = argmax(row);
        confusion[truth as usize][predicted] += 1;
        correct += u64::from(predicted == truth as usize);
        let p = row[truth as usize].clamp(LOG_LOSS_EPS, 1.0 - LOG_LOSS_EPS);
        log_loss -= p.ln();
    }

    let per_class: Vec<ClassReport> = (0..n_classes)
        .map(|c| {
            let tp = confusion[c][c];
            let support: u64 = confusion[c].iter().sum();
            let predicted: u64 = confusion.iter().map(|r| r[c]).sum();
            ClassReport {
                precision: ratio(tp, predicted),
                recall: ratio(tp, support),
                f1: ratio(2 * tp, support + predicted),
                support,
            }
        })
        .collect();

    let (precision, recall, f1) = if n_classes == 2 {
        let positive = &per_class[1];
        (positive.precision, positive.recall, positive.f1)
    } else {
        // Classes that occur in the truth or the predictions (scikit-learn's label set).
        let used: Vec<&ClassReport> = (0..n_classes)
            .filter(|&c| per_class[c].support > 0 || confusion.iter().any(|r| r[c] > 0))
            .map(|c| &per_class[c])
            .collect();
        let macro_mean = |f: fn(&ClassReport) -> f64| {
            if used.is_empty() {
                0.0
            } else {
                used.iter().map(|r| f(r)).sum::<f64>() / used.len() as f64
            }
        };
        (
            macro_mean(|r| r.precision),
            macro_mean(|r| r.recall),
            macro_mean(|r| r.f1),
        )
    };

    let roc_auc = if n_classes < 2 || per_class.iter().any(|r| r.support == 0) {
        None
    } else if n_classes == 2 {
        let scores: Vec<f64> = rows().map(|r| r[1]).collect();
        let positive: Vec<bool> = y_true.iter().map(|&y| y == 1).collect();
        binary_roc_auc(&positive, &scores)
    } else {
        // Every class occurs, so every one-vs-rest split has both sides.
        (0..n_classes)
            .map(|c| {
                let scores: Vec<f64> = rows().map(|r| r[c]).collect();
                let positive: Vec<bool> = y_true.iter().map(|&y| y as usize == c).collect();
                binary_roc_auc(&positive, &scores)
            })
            .sum::<Option<f64>>()
            .map(|sum| sum / n_classes as f64)
    };
    let roc_auc = roc_auc.filter(|v| v.is_finite());

    ClassificationMetrics {
        accuracy: ratio(correct, n as u64),
        precision,
        recall,
        f1,
        roc_auc,
        log_loss: if n == 0 { 0.0 } else { log_loss / n as f64 },
        confusion,
        per_class,
    }
}

impl ClassificationMetrics {
    /// Balanced accuracy: the mean of the per-class recalls over the classes that occur in the
    /// true labels (scikit-learn's `balanced_accuracy_score` without `adjusted`: a class that is
    /// only predicted, never true, is left out, as scikit-learn does with a warning). With no
    /// rows: 0.
    pub fn balanced_accuracy(&self) -> f64 {
        let present: Vec<&ClassReport> = self.per_class.iter().filter(|r| r.support > 0).collect();
        if present.is_empty() {
            0.0
        } else {
            present.iter().map(|r| r.recall).sum::<f64>() / present.len() as f64
        }
    }

    /// A metric by name: `None` for a regression metric, and for ROC-AUC where it is not
    /// defined.
    pub fn get(&self, metric: Metric) -> Option<f64> {
        match metric {
            Metric::Accuracy => Some(self.accuracy),
            Metric::BalancedAccuracy => Some(self.balanced_accuracy()),
            Metric::Precision => Some(self.precision),
            Metric::Recall => Some(self.recall),
            Metric::F1 => Some(self.f1),
            Metric::RocAuc => self.roc_auc,
            Metric::LogLoss => Some(self.log_loss),
            Metric::Rmse | Metric::Mae | Metric::R2 => None,
        }
    }
}

/// The index of the largest value, the lowest index on ties (NaN never wins; an all-NaN or
/// empty slice gives 0).
pub fn argmax(values: &[f64]) -> usize {
    let mut best = 0;
    for (i, &v) in values.iter().enumerate() {
        if v > values[best] || (values[best].is_nan() && !v.is_nan()) {
            best = i;
        }
    }
    best
}

/// Metrics of a regressor's predictions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegressionMetrics {
    /// Root mean squared error.
    pub rmse: f64,
    /// Mean absolute error.
    pub mae: f64,
    /// Coefficient of determination, `1 - SS_res / SS_tot`. When the true values are all equal
    /// (`SS_tot = 0`): 1 for a perfect prediction, 0 otherwise (scikit-learn's
    /// `force_finite=True`).
    pub r2: f64,
}

impl RegressionMetrics {
    /// A metric by name: `None` for a classification metric.
    pub fn get(&self, metric: Metric) -> Option<f64> {
        match metric {
            Metric::Rmse => Some(self.rmse),
            Metric::Mae => Some(self.mae),
            Metric::R2 => Some(self.r2),
            _ => None,
        }
    }
}

/// Regression metrics of `y_pred` against `y_true`. With no rows, all three are 0
/// (scikit-learn raises an error).
///
/// # Panics
/// If the slices differ in length (a caller bug).
pub fn regression(y_true: &[f64], y_pred: &[f64]) -> RegressionMetrics {
    assert_eq!(y_true.len(), y_pred.len(), "y_true and y_pred lengths");
    if y_true.is_empty() {
        return RegressionMetrics {
            rmse: 0.0,
            mae: 0.0,
            r2: 0.0,
        };
    }
    let n = y_true.len() as f64;
    let (mut ss_res, mut abs) = (0.0, 0.0);
    for (t, p) in y_true.iter().zip(y_pred) {
        ss_res += (t - p) * (t - p);
        abs += (t - p).abs();
    }
    let mean = y_true.iter().sum::<f64>() / n;
    let ss_tot: f64 = y_true.iter().map(|t| (t - mean) * (t - mean)).sum();
    let r2 = if ss_tot == 0.0 {
        if ss_res == 0.0 { 1.0 } else { 0.0 }
    } else {
        1.0 - ss_res / ss_tot
    };
    RegressionMetrics {
        rmse: (ss_res / n).sqrt(),
        mae: abs / n,
        r2,
    }
}

/// `num / den`, or 0 when `den` is 0.
fn ratio(num: u64, den: u64) -> f64 {
    if den == 0 {
        0.0
    } else {
        num as f64 / den as f64
    }
}

/// ROC AUC as the Mann–Whitney statistic with average ranks for tied scores, which equals the
/// trapezoidal area under the ROC curve that scikit-learn computes. `None` unless both classes
/// occur.
fn binary_roc_auc(positive: &[bool], scores: &[f64]) -> Option<f64> {
    let n_pos = positive.iter().filter(|&&p| p).count();
    let n_neg = positive.len() - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    // Sum of the (1-based, tie-averaged) ranks of the positives.
    let mut rank_sum = 0.0;
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && scores[order[end]] == scores[order[start]] {
            end += 1;
        }
        let average_rank = (start + 1 + end) as f64 / 2.0;
        let positives = order[start..end].iter().filter(|&&i| positive[i]).count();
        rank_sum += average_rank * positives as f64;
        start = end;
    }
    let (p, q) = (n_pos as f64, n_neg as f64);
    Some((rank_sum - p * (p + 1.0) / 2.0) / (p * q))
}

#[cfg(test)]
mod tests {
    //! Expected values come from scikit-learn 1.9.1 on the same literal data.

    use super::*;

    fn close(actual: f64, expected: f64, what: &str) {
        assert!(
            (actual - expected).abs() <= 1e-12,
            "{what}: got {actual}, expected {expected}"
        );
    }

    const BINARY_Y: [u32; 16] = [0, 0, 1, 1, 0, 1, 0, 1, 1, 0, 0, 1, 1, 0, 1, 0];
    /// P(class 1), with ties across classes (0.4, 0.35, 0.5) and two rows at exactly 0.5,
    /// which predict class 0.
    const BINARY_P1: [f64; 16] = [
        0.1, 0.4, 0.35, 0.8, 0.4, 0.4, 0.2, 0.9, 0.55, 0.7, 0.4, 0.6, 0.35, 0.05, 0.5, 0.5,
    ];

    #[test]
    fn binary_metrics_match_sklearn() {
        let proba: Vec<f64> = BINARY_P1.iter().flat_map(|&p| [1.0 - p, p]).collect();
        let m = classification(&BINARY_Y, &proba, 2);
        close(m.accuracy, 0.6875, "accuracy");
        close(m.precision, 0.8, "precision");
        close(m.recall, 0.5, "recall");
        close(m.f1, 0.6153846153846154, "f1");
        close(m.roc_auc.unwrap(), 0.734375, "roc_auc");
        close(m.log_loss, 0.559727691904284, "log_loss");
        assert_eq!(m.confusion, vec![vec![7, 1], vec![4, 4]]);
        let class0 = &m.per_class[0];
        close(class0.precision, 0.6363636363636364, "precision 0");
        close(class0.recall, 0.875, "recall 0");
        close(class0.f1, 0.7368421052631579, "f1 0");
        assert_eq!((class0.support, m.per_class[1].support), (8, 8));
    }

    const MULTI_Y: [u32; 15] = [0, 1, 2, 2, 1, 0, 0, 2, 1, 1, 2, 0, 1, 2, 0];
    /// Rows with argmax ties (0.4/0.4, 0.25/0.25, 0.5/0.5) and a zero probability for the true
    /// class in the last row (clipped in the log loss).
    const MULTI_P: [[f64; 3]; 15] = [
        [0.7, 0.2, 0.1],
        [0.2, 0.5, 0.3],
        [0.1, 0.3, 0.6],
        [0.3, 0.3, 0.4],
        [0.4, 0.4, 0.2],
        [0.5, 0.25, 0.25],
        [0.2, 0.6, 0.2],
        [0.25, 0.25, 0.5],
        [0.1, 0.8, 0.1],
        [0.3, 0.2, 0.5],
        [0.2, 0.2, 0.6],
        [0.6, 0.2, 0.2],
        [0.3, 0.4, 0.3],
        [0.3, 0.4, 0.3],
        [0.0, 0.5, 0.5],
    ];

    #[test]
    fn multiclass_metrics_match_sklearn() {
        let m = classification(&MULTI_Y, &MULTI_P.concat(), 3);
        close(m.accuracy, 0.6666666666666666, "accuracy");
        close(m.precision, 0.6833333333333332, "macro precision");
        close(m.recall, 0.6666666666666666, "macro recall");
        close(m.f1, 0.6707070707070706, "macro f1");
        close(m.roc_auc.unwrap(), 0.7466666666666667, "ovr roc_auc");
        close(m.log_loss, 3.1604740748109665, "log_loss");
        assert_eq!(
            m.confusion,
            vec![vec![3, 2, 0], vec![1, 3, 1], vec![0, 1, 4]]
        );
        let expected = [
            (0.75, 0.6, 0.6666666666666666),
            (0.5, 0.6, 0.5454545454545454),
            (0.8, 0.8, 0.8),
        ];
        for (r, (p, rc, f)) in m.per_class.iter().zip(expected) {
            close(r.precision, p, "precision");
            close(r.recall, rc, "recall");
            close(r.f1, f, "f1");
            assert_eq!(r.support, 5);
        }
    }

    #[test]
    fn never_predicted_class_counts_zero_precision_in_the_macro_average() {
        let y = [0, 1, 2, 0, 1, 2];
        let p = [
            [0.6, 0.3, 0.1],
            [0.2, 0.7, 0.1],
            [0.5, 0.3, 0.2],
            [0.9, 0.05, 0.05],
            [0.4, 0.5, 0.1],
            [0.3, 0.4, 0.3],
        ];
        let m = classification(&y, &p.concat(), 3);
        close(m.precision, 0.4444444444444444, "macro precision");
        close(m.recall, 0.6666666666666666, "macro recall");
        close(m.f1, 0.5333333333333333, "macro f1");
        close(m.roc_auc.unwrap(), 1.0, "roc_auc");
        assert_eq!(m.per_class[2].precision, 0.0);
    }

    #[test]
    fn absent_classes() {
        // Class 2 of 4 never occurs nor is predicted: left out of the macro average; no AUC.
        let y = [0, 1, 3, 3];
        let p = [
            [0.7, 0.1, 0.1, 0.1],
            [0.1, 0.7, 0.1, 0.1],
            [0.1, 0.1, 0.1, 0.7],
            [0.7, 0.1, 0.1, 0.1],
        ];
        let m = classification(&y, &p.concat(), 4);
        assert_eq!(m.roc_auc, None);
        // Per class (0, 1, 3): precision (0.5, 1, 1), recall (1, 1, 0.5).
        close(m.precision, 2.5 / 3.0, "macro precision");
        close(m.recall, 2.5 / 3.0, "macro recall");
        assert_eq!(m.per_class[2].support, 0);
        // Binary with one class only in the truth.
        let m = classification(&[1, 1], &[0.2, 0.8, 0.6, 0.4], 2);
        assert_eq!(m.roc_auc, None);
        close(m.accuracy, 0.5, "accuracy");
        // No rows at all: zeros, serialisable as JSON.
        let m = classification(&[], &[], 3);
        assert_eq!((m.accuracy, m.log_loss, m.roc_auc), (0.0, 0.0, None));
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(
            serde_json::from_str::<ClassificationMetrics>(&json).unwrap(),
            m
        );
    }

    #[test]
    fn roc_auc_counts_ties_half() {
        // All scores equal: 0.5 whatever the labels.
        let m = classification(&[0, 1, 1, 0, 1], &[0.5; 10], 2);
        close(m.roc_auc.unwrap(), 0.5, "all tied");
        // One positive tied with one of two negatives, above the other: (1 + 0.5) / 2.
        let p1 = [0.3, 0.6, 0.6];
        let proba: Vec<f64> = p1.iter().flat_map(|&p| [1.0 - p, p]).collect();
        let m = classification(&[0, 0, 1], &proba, 2);
        close(m.roc_auc.unwrap(), 0.75, "one tie");
    }

    #[test]
    fn argmax_takes_the_lowest_index_on_ties() {
        assert_eq!(argmax(&[0.2, 0.4, 0.4]), 1);
        assert_eq!(argmax(&[0.5, 0.5]), 0);
        assert_eq!(argmax(&[f64::NAN, 0.1, 0.3]), 2);
        assert_eq!(argmax(&[]), 0);
    }

    #[test]
    fn regression_metrics_match_sklearn() {
        let y_true = [3.0, -0.5, 2.0, 7.0, 4.2, 1.1, 0.0, -2.3, 5.5, 3.3];
        let y_pred = [2.5, 0.0, 2.1, 7.8, 3.9, 1.0, 0.4, -2.0, 5.0, 3.9];
        let m = regression(&y_true, &y_pred);
        close(m.rmse, 0.4593473631142341, "rmse");
        close(m.mae, 0.41, "mae");
        close(m.r2, 0.9711909995767398, "r2");
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(serde_json::from_str::<RegressionMetrics>(&json).unwrap(), m);
    }

    #[test]
    fn balanced_accuracy_matches_sklearn_on_the_literal_samples() {
        let proba: Vec<f64> = BINARY_P1.iter().flat_map(|&p| [1.0 - p, p]).collect();
        close(
            classification(&BINARY_Y, &proba, 2).balanced_accuracy(),
            0.6875,
            "binary",
        );
        close(
            classification(&MULTI_Y, &MULTI_P.concat(), 3).balanced_accuracy(),
            0.6666666666666666,
            "multiclass",
        );
        // Class 2 is predicted once but never true: left out of the mean, as scikit-learn
        // does (`balanced_accuracy_score([0, 1, 0, 1], [0, 2, 0, 1])` = 0.75).
        let p = [
            [0.9, 0.05, 0.05],
            [0.1, 0.2, 0.7],
            [0.8, 0.1, 0.1],
            [0.1, 0.8, 0.1],
        ];
        let m = classification(&[0, 1, 0, 1], &p.concat(), 3);
        close(m.balanced_accuracy(), 0.75, "only predicted");
        assert_eq!(classification(&[], &[], 2).balanced_accuracy(), 0.0);
    }

    // The values of the seeded samples below were computed once with scikit-learn 1.9.1
    // (numpy 2), by this script; the samples are its printed data:
    //
    //     import numpy as np
    //     from sklearn import metrics as m
    //     rng = np.random.default_rng(15)
    //     y = rng.integers(0, 3, 24)
    //     raw = rng.random((24, 3)) + np.eye(3)[y] * 0.6
    //     p = np.round(raw / raw.sum(axis=1, keepdims=True), 2)
    //     p[:, 2] = np.round(1 - p[:, 0] - p[:, 1], 2)
    //     pred = p.argmax(axis=1)
    //     m.accuracy_score(y, pred); m.balanced_accuracy_score(y, pred)
    //     m.precision_score(y, pred, average="macro", zero_division=0)   # recall_score, f1_score alike
    //     m.roc_auc_score(y, p, multi_class="ovr", average="macro"); m.log_loss(y, p, labels=[0, 1, 2])
    //     yb = (y == 1).astype(int); pb = np.round(p[:, 1], 2); predb = (pb > 0.5).astype(int)
    //     m.accuracy_score(yb, predb); m.balanced_accuracy_score(yb, predb)
    //     m.precision_score(yb, predb); m.recall_score(yb, predb); m.f1_score(yb, predb)
    //     m.roc_auc_score(yb, pb); m.log_loss(yb, np.c_[1 - pb, pb])
    //     t = np.round(rng.normal(3, 2, 20), 3); q = np.round(t + rng.normal(0, 0.7, 20), 3)
    //     m.root_mean_squared_error(t, q); m.mean_absolute_error(t, q); m.r2_score(t, q)

    const SEEDED_Y: [u32; 24] = [
        2, 2, 2, 2, 0, 1, 0, 0, 1, 1, 2, 0, 2, 2, 1, 1, 2, 1, 0, 2, 0, 2, 0, 2,
    ];
    const SEEDED_P: [[f64; 3]; 24] = [
        [0.26, 0.45, 0.29],
        [0.42, 0.18, 0.4],
        [0.22, 0.39, 0.39],
        [0.31, 0.16, 0.53],
        [0.54, 0.31, 0.15],
        [0.26, 0.38, 0.36],
        [0.53, 0.42, 0.05],
        [0.61, 0.26, 0.13],
        [0.24, 0.73, 0.03],
        [0.19, 0.58, 0.23],
        [0.41, 0.04, 0.55],
        [0.54, 0.01, 0.45],
        [0.15, 0.35, 0.5],
        [0.37, 0.24, 0.39],
        [0.31, 0.37, 0.32],
        [0.35, 0.37, 0.28],
        [0.28, 0.35, 0.37],
        [0.14, 0.6, 0.26],
        [0.47, 0.49, 0.04],
        [0.19, 0.4, 0.41],
        [0.55, 0.28, 0.17],
        [0.15, 0.19, 0.66],
        [0.53, 0.14, 0.33],
        [0.44, 0.01, 0.55],
    ];

    #[test]
    fn seeded_multiclass_sample_matches_sklearn() {
        let m = classification(&SEEDED_Y, &SEEDED_P.concat(), 3);
        let expected = [
            (Metric::Accuracy, 0.8333333333333334),
            (Metric::BalancedAccuracy, 0.8614718614718614),
            (Metric::Precision, 0.8412698412698413),
            (Metric::Recall, 0.8614718614718614),
            (Metric::F1, 0.8330827067669172),
            (Metric::RocAuc, 0.9327246827246828),
            (Metric::LogLoss, 0.730753512760581),
        ];
        for (metric, value) in expected {
            close(m.get(metric).unwrap(), value, metric.as_str());
        }
        assert_eq!(m.get(Metric::Rmse), None);
    }

    #[test]
    fn seeded_binary_sample_matches_sklearn() {
        let y: Vec<u32> = SEEDED_Y.iter().map(|&c| u32::from(c == 1)).collect();
        let proba: Vec<f64> = SEEDED_P.iter().flat_map(|r| [1.0 - r[1], r[1]]).collect();
        let m = classification(&y, &proba, 2);
        let expected = [
            (Metric::Accuracy, 0.875),
            (Metric::BalancedAccuracy, 0.75),
            (Metric::Precision, 1.0),
            (Metric::Recall, 0.5),
            (Metric::F1, 0.6666666666666666),
            (Metric::RocAuc, 0.8611111111111112),
            (Metric::LogLoss, 0.41997205100909163),
        ];
        for (metric, value) in expected {
            close(m.get(metric).unwrap(), value, metric.as_str());
        }
    }

    #[test]
    fn seeded_regression_sample_matches_sklearn() {
        let t = [
            1.625, 5.22, 1.486, 0.246, 4.581, 6.556, 6.219, 4.562, 7.184, 2.289, 7.351, 7.197,
            2.315, 3.826, 0.426, 0.948, 4.132, 0.673, 3.43, 3.925,
        ];
        let q = [
            1.723, 5.905, 2.856, 0.383, 5.297, 7.616, 5.913, 4.108, 5.495, 2.605, 8.105, 7.52,
            3.804, 4.916, 1.018, 0.942, 3.536, 0.771, 3.802, 3.899,
        ];
        let m = regression(&t, &q);
        close(m.get(Metric::Rmse).unwrap(), 0.7808818412538482, "rmse");
        close(m.get(Metric::Mae).unwrap(), 0.60885, "mae");
        close(m.get(Metric::R2).unwrap(), 0.8879653357681904, "r2");
        assert_eq!(m.get(Metric::Accuracy), None);
    }

    #[test]
    fn r2_of_a_constant_target_is_finite() {
        assert_eq!(regression(&[2.0, 2.0], &[2.0, 2.0]).r2, 1.0);
        assert_eq!(regression(&[2.0, 2.0], &[1.0, 2.0]).r2, 0.0);
        let m = regression(&[], &[]);
        assert_eq!((m.rmse, m.mae, m.r2), (0.0, 0.0, 0.0));
    }
}
