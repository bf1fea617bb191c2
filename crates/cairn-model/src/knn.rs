//! k-nearest neighbours: [`KnnClassifier`] and [`KnnRegressor`], fitted by cairn (an exact
//! linear search over the stored training rows), with the same neighbours and votes as
//! smartcore's `LinearSearch` (no cover tree) and scikit-learn's `KNeighbors…` (tested).
//!
//! The input rules are [`crate::guard`]'s; no magnitude limit applies: distances that overflow to
//! infinity still give neighbours. Prediction methods take a row of `n_features` values and
//! panic if it has another length (and, for probabilities, if `out` is not `n_classes` long):
//! that is a caller bug, not bad data.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use serde::{Deserialize, Serialize};

use crate::guard::{check_labels, check_target, check_x, param};
use crate::{FitError, Matrix};

/// How the k neighbours' votes (or targets) are weighted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KnnWeights {
    /// Every neighbour counts the same.
    #[default]
    Uniform,
    /// A neighbour at distance `d` counts `1 / d`; if any neighbour is at distance 0, only the
    /// neighbours at distance 0 count (equally). Same rule as smartcore and scikit-learn.
    Distance,
}

/// The distance between rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KnnDistance {
    /// `sqrt(Σ (a_j - b_j)²)`.
    #[default]
    Euclidean,
    /// `Σ |a_j - b_j|`.
    Manhattan,
}

/// Parameters of [`KnnClassifier`] and [`KnnRegressor`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KnnParams {
    /// The number of neighbours, between 1 and the number of training rows. Default 5, as in
    /// scikit-learn (smartcore's default is 3).
    pub k: usize,
    pub weights: KnnWeights,
    pub distance: KnnDistance,
}

impl Default for KnnParams {
    fn default() -> Self {
        KnnParams {
            k: 5,
            weights: KnnWeights::Uniform,
            distance: KnnDistance::Euclidean,
        }
    }
}

/// The training rows (row-major) and an exact k-nearest search over them (see
/// [`KnnClassifier`] for the search rules).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Neighbours {
    params: KnnParams,
    n_features: usize,
    rows: Vec<f64>,
}

/// A candidate neighbour; ordered by `(distance, index)`. For Euclidean distance `distance`
/// is the squared distance until [`Neighbours::find`] returns.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    distance: f64,
    index: usize,
}

impl PartialEq for Candidate {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Candidate {}

impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Candidate {
    fn cmp(&self, other: &Self) -> Ordering {
        self.distance
            .total_cmp(&other.distance)
            .then(self.index.cmp(&other.index))
    }
}

impl Neighbours {
    fn new(x: &Matrix, params: KnnParams) -> Result<Neighbours, FitError> {
        if params.k == 0 {
            return Err(param("k", "must be at least 1, got 0"));
        }
        check_x(x)?;
        if params.k > x.rows {
            return Err(param(
                "k",
                format!(
                    "is {} but there are only {} training rows; k cannot exceed the number of \
                     training rows",
                    params.k, x.rows
                ),
            ));
        }
        let n_features = x.cols();
        let mut rows = Vec::with_capacity(x.rows * n_features);
        for i in 0..x.rows {
            rows.extend(x.columns.iter().map(|c| c[i]));
        }
        Ok(Neighbours {
            params,
            n_features,
            rows,
        })
    }

    /// The k nearest training rows to `query`, nearest first, with their distances.
    fn find(&self, query: &[f64]) -> Vec<Candidate> {
        assert_eq!(query.len(), self.n_features, "row length");
        let k = self.params.k;
        let mut heap: BinaryHeap<Candidate> = BinaryHeap::with_capacity(k + 1);
        for (index, row) in self.rows.chunks_exact(self.n_features.max(1)).enumerate() {
            // Once k rows are held, a row is admitted only if strictly closer than the k-th: on
            // a tie the earlier row (already held) wins, as the `(distance, index)` order says.
            let bound = if heap.len() == k {
                heap.peek().map(|c| c.distance)
            } else {
                None
            };
            let Some(distance) = self.partial_distance(query, row, bound) else {
                continue;
            };
            heap.push(Candidate { distance, index });
            if heap.len() > k {
                heap.pop();
            }
        }
        let mut found = heap.into_sorted_vec();
        if self.params.distance == KnnDistance::Euclidean {
            for c in &mut found {
                c.distance = c.distance.sqrt();
            }
        }
        found
    }

    /// The (squared, for Euclidean) distance, or `None` as soon as it reaches `bound`.
    fn partial_distance(&self, a: &[f64], b: &[f64], bound: Option<f64>) -> Option<f64> {
        let mut sum = 0.0;
        for (x, y) in a.iter().zip(b) {
            let d = x - y;
            sum += match self.params.distance {
                KnnDistance::Euclidean => d * d,
                KnnDistance::Manhattan => d.abs(),
            };
            if bound.is_some_and(|b| sum >= b) {
                return None;
            }
        }
        Some(sum)
    }

    /// The weights of `found`, in the same order (not normalised; their sum is positive and
    /// finite).
    ///
    /// Distance weights: a neighbour whose `1 / d` is infinite (d = 0, or subnormal) takes the
    /// place of smartcore's and scikit-learn's "distance 0" neighbours; if every distance
    /// overflowed to infinity the weights fall back to uniform.
    fn weights(&self, found: &[Candidate]) -> Vec<f64> {
        if self.params.weights == KnnWeights::Uniform {
            return vec![1.0; found.len()];
        }
        let inverse: Vec<f64> = found.iter().map(|c| 1.0 / c.distance).collect();
        if inverse.iter().any(|w| w.is_infinite()) {
            inverse
                .iter()
                .map(|w| if w.is_infinite() { 1.0 } else { 0.0 })
                .collect()
        } else if inverse.iter().sum::<f64>() > 0.0 {
            inverse
        } else {
            vec![1.0; found.len()]
        }
    }
}

/// k-nearest-neighbour classifier: each class's share of the k nearest training rows'
/// (weighted) votes.
///
/// The model stores the training rows (row-major) and searches them exactly for every
/// prediction with a linear scan: O(rows × features) per row predicted, abandoning a training
/// row as soon as its partial distance cannot beat the current k-th neighbour. The neighbours
/// are the k smallest `(distance, training row index)` pairs, so equal distances go to the
/// earlier training row, which is also what smartcore's `LinearSearch` does.
///
/// Not smartcore's `KNNClassifier` (whose default search is a cover tree, serialized with the
/// model); the probabilities are those of smartcore's `predict_proba` with `LinearSearch`
/// (tested) and of scikit-learn's `KNeighborsClassifier` (tested), except where distances tie:
/// scikit-learn breaks such ties in an unspecified order and computes Euclidean distances with
/// the `|a|² - 2a·b + |b|²` expansion, which can round differently.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KnnClassifier {
    n_classes: usize,
    neighbours: Neighbours,
    y: Vec<u32>,
}

impl KnnClassifier {
    pub fn fit(x: &Matrix, y: &[u32], n_classes: usize, p: &KnnParams) -> Result<Self, FitError> {
        let neighbours = Neighbours::new(x, *p)?;
        check_labels(y, x.rows, n_classes)?;
        Ok(KnnClassifier {
            n_classes,
            neighbours,
            y: y.to_vec(),
        })
    }

    /// Writes each class's share of the k nearest neighbours' (weighted) votes into `out`.
    ///
    /// # Panics
    /// If `row.len() != n_features()` or `out.len() != n_classes()`.
    pub fn predict_proba_into(&self, row: &[f64], out: &mut [f64]) {
        assert_eq!(out.len(), self.n_classes, "output length");
        let found = self.neighbours.find(row);
        let weights = self.neighbours.weights(&found);
        let total: f64 = weights.iter().sum();
        out.fill(0.0);
        for (c, w) in found.iter().zip(&weights) {
            out[self.y[c.index] as usize] += w;
        }
        for v in out.iter_mut() {
            *v /= total;
        }
    }

    pub fn n_classes(&self) -> usize {
        self.n_classes
    }

    pub fn n_features(&self) -> usize {
        self.neighbours.n_features
    }

    pub fn params(&self) -> &KnnParams {
        &self.neighbours.params
    }
}

/// k-nearest-neighbour regressor: the (weighted) mean target of the k nearest training rows.
/// Same search as [`KnnClassifier`]; the same predictions as smartcore's `KNNRegressor` with
/// `LinearSearch` and scikit-learn's `KNeighborsRegressor` (up to tied distances).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KnnRegressor {
    neighbours: Neighbours,
    y: Vec<f64>,
}

impl KnnRegressor {
    pub fn fit(x: &Matrix, y: &[f64], p: &KnnParams) -> Result<Self, FitError> {
        let neighbours = Neighbours::new(x, *p)?;
        check_target(y, x.rows)?;
        Ok(KnnRegressor {
            neighbours,
            y: y.to_vec(),
        })
    }

    /// # Panics
    /// If `row.len()` differs from the number of features at fit.
    pub fn predict(&self, row: &[f64]) -> f64 {
        let found = self.neighbours.find(row);
        let weights = self.neighbours.weights(&found);
        let total: f64 = weights.iter().sum();
        found
            .iter()
            .zip(&weights)
            .map(|(c, w)| self.y[c.index] * w)
            .sum::<f64>()
            / total
    }

    pub fn n_features(&self) -> usize {
        self.neighbours.n_features
    }

    pub fn params(&self) -> &KnnParams {
        &self.neighbours.params
    }
}

#[cfg(test)]
mod tests {
    use smartcore::algorithm::neighbour::KNNAlgorithmName;
    use smartcore::neighbors::KNNWeightFunction;
    use smartcore::neighbors::knn_classifier::{KNNClassifier, KNNClassifierParameters};
    use smartcore::neighbors::knn_regressor::{KNNRegressor, KNNRegressorParameters};

    use super::*;
    use crate::test_util::{assert_close, dense, knn_params, matrix, probabilities};

    const KNN_X: [[f64; 2]; 21] = [
        [-0.82, -0.56],
        [-1.18, -1.21],
        [-0.75, 0.66],
        [1.33, -0.02],
        [0.87, -0.21],
        [-1.53, 0.12],
        [0.36, -0.34],
        [1.74, 0.96],
        [0.81, -0.68],
        [1.32, 0.33],
        [1.22, 1.29],
        [2.88, 0.17],
        [2.06, 1.25],
        [2.07, 1.34],
        [0.19, 2.09],
        [2.12, 2.14],
        [0.0, 1.99],
        [1.51, 1.8],
        [0.05, 2.73],
        [-0.5, 1.9],
        [0.49, 0.55],
    ];
    const KNN_Y: [u32; 21] = [
        0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2,
    ];
    const KNN_Q: [[f64; 2]; 6] = [
        [1.7, 0.91],
        [-0.45, 1.14],
        [0.21, -1.11],
        [-0.02, 0.84],
        [1.17, 0.75],
        [0.64, 1.02],
    ];

    /// scikit-learn `KNeighborsClassifier(4, weights="distance", metric="euclidean")` probabilities of KNN_Q.
    #[rustfmt::skip]
    const KNN_SKLEARN_DISTANCE_EUCLIDEAN: [[f64; 3]; 6] = [
        [0.0, 1.0, 0.0],
        [0.35189605003533364, 0.0, 0.6481039499646664],
        [0.6908403382729273, 0.30915966172707254, 0.0],
        [0.27922142383391596, 0.0, 0.720778576166084],
        [0.0, 0.8024945596660538, 0.19750544033394626],
        [0.0, 0.6334653188164145, 0.3665346811835854],
    ];

    /// scikit-learn `KNeighborsClassifier(4, weights="distance", metric="manhattan")` probabilities of KNN_Q.
    #[rustfmt::skip]
    const KNN_SKLEARN_DISTANCE_MANHATTAN: [[f64; 3]; 6] = [
        [0.0, 1.0, 0.0],
        [0.3254395916052184, 0.0, 0.6745604083947816],
        [0.7119066223345495, 0.28809337766545057, 0.0],
        [0.282600396801927, 0.0, 0.7173996031980729],
        [0.0, 0.8063362968278648, 0.1936637031721352],
        [0.0, 0.6318723814081408, 0.36812761859185916],
    ];

    #[test]
    fn knn_classifier_matches_sklearn() {
        // scikit-learn KNeighborsClassifier(n_neighbors=4, algorithm="brute").
        let cases = [
            (
                KnnWeights::Uniform,
                KnnDistance::Euclidean,
                [
                    [0.0, 1.0, 0.0],
                    [0.25, 0.0, 0.75],
                    [0.75, 0.25, 0.0],
                    [0.25, 0.0, 0.75],
                    [0.0, 0.75, 0.25],
                    [0.0, 0.75, 0.25],
                ],
            ),
            (
                KnnWeights::Uniform,
                KnnDistance::Manhattan,
                [
                    [0.0, 1.0, 0.0],
                    [0.25, 0.0, 0.75],
                    [0.75, 0.25, 0.0],
                    [0.25, 0.0, 0.75],
                    [0.0, 0.75, 0.25],
                    [0.0, 0.75, 0.25],
                ],
            ),
            (
                KnnWeights::Distance,
                KnnDistance::Euclidean,
                KNN_SKLEARN_DISTANCE_EUCLIDEAN,
            ),
            (
                KnnWeights::Distance,
                KnnDistance::Manhattan,
                KNN_SKLEARN_DISTANCE_MANHATTAN,
            ),
        ];
        let x = matrix(&KNN_X);
        for (weights, distance, expected) in cases {
            let model =
                KnnClassifier::fit(&x, &KNN_Y, 3, &knn_params(4, weights, distance)).unwrap();
            let proba = probabilities(3, 6, |i, out| model.predict_proba_into(&KNN_Q[i], out));
            assert_close(
                &proba,
                &expected.concat(),
                1e-12,
                &format!("{weights:?} {distance:?}"),
            );
        }
    }

    #[test]
    fn knn_classifier_matches_smartcore_linear_search_including_ties() {
        // Duplicated training rows with different labels make exact distance ties: both
        // searches keep the earlier training row.
        let mut rows = KNN_X.to_vec();
        let mut labels = KNN_Y.to_vec();
        for (i, label) in [(20, 0), (3, 2), (14, 1), (9, 2)] {
            rows.push(rows[i]);
            labels.push(label);
        }
        let x = matrix(&rows);
        let mut queries = KNN_Q.to_vec();
        queries.extend([rows[20], rows[3], [0.49, 0.56]]);
        for (weights, sc_weight) in [
            (KnnWeights::Uniform, KNNWeightFunction::Uniform),
            (KnnWeights::Distance, KNNWeightFunction::Distance),
        ] {
            for k in [1, 3, 4, 7] {
                let model = KnnClassifier::fit(
                    &x,
                    &labels,
                    3,
                    &knn_params(k, weights, KnnDistance::Euclidean),
                )
                .unwrap();
                let sc = KNNClassifier::fit(
                    &dense(&rows),
                    &labels,
                    KNNClassifierParameters::default()
                        .with_k(k)
                        .with_algorithm(KNNAlgorithmName::LinearSearch)
                        .with_weight(sc_weight.clone()),
                )
                .unwrap();
                let expected = sc.predict_proba(&dense(&queries)).unwrap();
                for (q, e) in queries.iter().zip(&expected) {
                    let mut out = [0.0; 3];
                    model.predict_proba_into(q, &mut out);
                    assert_close(&out, e, 1e-12, &format!("{weights:?} k={k} {q:?}"));
                }
            }
        }
    }

    #[test]
    fn knn_regressor_matches_sklearn_and_smartcore() {
        let y = [
            -1.12, -0.91, -2.13, 2.74, 2.06, -3.39, 0.92, 2.83, 2.37, 2.25, 1.22, 5.49, 2.93, 2.67,
            -1.65, 1.78, -1.72, 1.12, -2.95, -2.94, 0.36,
        ];
        // scikit-learn KNeighborsRegressor(n_neighbors=3).
        let cases = [
            (
                KnnWeights::Uniform,
                KNNWeightFunction::Uniform,
                [
                    2.81,
                    -2.263333333333333,
                    1.7833333333333332,
                    -1.1633333333333333,
                    2.1,
                    1.2766666666666666,
                ],
            ),
            (
                KnnWeights::Distance,
                KNNWeightFunction::Distance,
                [
                    2.825870937663666,
                    -2.2846822785724044,
                    1.7669168767095962,
                    -0.9515403780147085,
                    2.085239324605406,
                    1.0728961412078195,
                ],
            ),
        ];
        let x = matrix(&KNN_X);
        for (weights, sc_weight, expected) in cases {
            let model =
                KnnRegressor::fit(&x, &y, &knn_params(3, weights, KnnDistance::Euclidean)).unwrap();
            let predicted: Vec<f64> = KNN_Q.iter().map(|q| model.predict(q)).collect();
            assert_close(&predicted, &expected, 1e-12, &format!("{weights:?}"));
            let sc = KNNRegressor::fit(
                &dense(&KNN_X),
                &y.to_vec(),
                KNNRegressorParameters::default()
                    .with_k(3)
                    .with_algorithm(KNNAlgorithmName::LinearSearch)
                    .with_weight(sc_weight),
            )
            .unwrap();
            let sc_predicted: Vec<f64> = sc.predict(&dense(&KNN_Q)).unwrap();
            assert_close(&predicted, &sc_predicted, 1e-12, "smartcore");
        }
        // A query on a training row with distance weights returns that row's target.
        let model = KnnRegressor::fit(
            &x,
            &y,
            &knn_params(3, KnnWeights::Distance, KnnDistance::Euclidean),
        )
        .unwrap();
        assert_eq!(model.predict(&KNN_X[5]), y[5]);
    }
}
