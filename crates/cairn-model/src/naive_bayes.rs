//! Gaussian naive Bayes ([`GaussianNb`]), fitted by cairn: scikit-learn's
//! `GaussianNB(var_smoothing)`, with a numerically stable variance.
//!
//! The input rules are [`crate::guard`]'s. Prediction methods take a row of `n_features` values
//! and panic if it has another length or if `out` is not `n_classes` long: that is a caller
//! bug, not bad data.

use serde::{Deserialize, Serialize};

use crate::guard::{check_labels, check_x, param};
use crate::math::{softmax_into, variance};
use crate::{FitError, Matrix};

/// Parameters of [`GaussianNb`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GaussianNbParams {
    /// scikit-learn's `var_smoothing`: `var_smoothing * (the largest variance of any feature
    /// over all training rows)` is added to every per-class variance. Default 1e-9, as in
    /// scikit-learn. Must be finite and `>= 0`. smartcore has no such parameter.
    pub var_smoothing: f64,
}

impl Default for GaussianNbParams {
    fn default() -> Self {
        GaussianNbParams {
            var_smoothing: 1e-9,
        }
    }
}

/// Gaussian naive Bayes: class priors from the class frequencies, one normal distribution per
/// feature and class. The result is scikit-learn's `GaussianNB(var_smoothing=...)`.
///
/// Fitted by cairn, not smartcore: smartcore's `GaussianNB` has no variance smoothing (a feature
/// that is constant within a class, like most one-hot columns, gives a zero variance and NaN or
/// infinite log-likelihoods) and computes the variance as `E[x²] - E[x]²`, which cancels
/// catastrophically for features whose mean is large compared with their spread and can even
/// come out negative. Here the per-class variance is the population variance computed around
/// the mean (two passes), as in scikit-learn and smartcore. Without smoothing on well-scaled
/// data the predicted class is smartcore's (tested).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GaussianNb {
    n_classes: usize,
    n_features: usize,
    /// The labels present in the training data, ascending.
    classes: Vec<u32>,
    /// Per class in `classes`: `ln prior - ½ Σ_j ln(2π var_j)`.
    log_norm: Vec<f64>,
    /// Class-major: `n_features` means per class in `classes`.
    means: Vec<f64>,
    /// Class-major smoothed variances, all > 0.
    variances: Vec<f64>,
    /// The amount added to every variance.
    epsilon: f64,
}

impl GaussianNb {
    pub fn fit(
        x: &Matrix,
        y: &[u32],
        n_classes: usize,
        p: &GaussianNbParams,
    ) -> Result<Self, FitError> {
        if !(p.var_smoothing.is_finite() && p.var_smoothing >= 0.0) {
            return Err(param(
                "var_smoothing",
                format!("must be a finite number >= 0, got {}", p.var_smoothing),
            ));
        }
        check_x(x)?;
        let classes = check_labels(y, x.rows, n_classes)?;
        let n_features = x.cols();
        let mut slot = vec![usize::MAX; n_classes];
        for (s, &c) in classes.iter().enumerate() {
            slot[c as usize] = s;
        }
        let mut counts = vec![0usize; classes.len()];
        for &label in y {
            counts[slot[label as usize]] += 1;
        }

        let largest_variance = x
            .columns
            .iter()
            .map(|c| variance(c.iter().copied()))
            .fold(0.0, f64::max);
        let epsilon = p.var_smoothing * largest_variance;

        let mut means = vec![0.0; classes.len() * n_features];
        let mut variances = vec![0.0; classes.len() * n_features];
        for (j, column) in x.columns.iter().enumerate() {
            let mut sums = vec![0.0; classes.len()];
            for (&v, &label) in column.iter().zip(y) {
                sums[slot[label as usize]] += v;
            }
            for s in 0..classes.len() {
                means[s * n_features + j] = sums[s] / counts[s] as f64;
            }
            let mut squares = vec![0.0; classes.len()];
            for (&v, &label) in column.iter().zip(y) {
                let s = slot[label as usize];
                let d = v - means[s * n_features + j];
                squares[s] += d * d;
            }
            for s in 0..classes.len() {
                let var = squares[s] / counts[s] as f64 + epsilon;
                if !var.is_finite() {
                    return Err(FitError::Data(format!(
                        "feature {j} has values too large to model: its variance overflows"
                    )));
                }
                if var <= 0.0 {
                    return Err(FitError::Data(format!(
                        "feature {j} is constant within class {} and no variance smoothing \
                         applies (var_smoothing is 0 or every feature is constant)",
                        classes[s]
                    )));
                }
                variances[s * n_features + j] = var;
            }
        }

        let total = x.rows as f64;
        let log_norm = (0..classes.len())
            .map(|s| {
                let log_det: f64 = variances[s * n_features..(s + 1) * n_features]
                    .iter()
                    .map(|v| (2.0 * std::f64::consts::PI * v).ln())
                    .sum();
                (counts[s] as f64 / total).ln() - 0.5 * log_det
            })
            .collect();
        Ok(GaussianNb {
            n_classes,
            n_features,
            classes,
            log_norm,
            means,
            variances,
            epsilon,
        })
    }

    /// Writes the posterior probability of each class into `out`: the joint log-likelihoods
    /// `ln prior - ½ Σ ln(2π var) - ½ Σ (x - mean)² / var`, normalised in log space.
    ///
    /// # Panics
    /// If `row.len() != n_features()` or `out.len() != n_classes()`.
    pub fn predict_proba_into(&self, row: &[f64], out: &mut [f64]) {
        assert_eq!(row.len(), self.n_features, "row length");
        assert_eq!(out.len(), self.n_classes, "output length");
        let p = self.n_features;
        let scores: Vec<f64> = (0..self.classes.len())
            .map(|s| {
                let means = &self.means[s * p..(s + 1) * p];
                let vars = &self.variances[s * p..(s + 1) * p];
                let distance: f64 = row
                    .iter()
                    .zip(means)
                    .zip(vars)
                    .map(|((x, m), v)| (x - m) * (x - m) / v)
                    .sum();
                self.log_norm[s] - 0.5 * distance
            })
            .collect();
        out.fill(0.0);
        softmax_into(&scores, &self.classes, out);
    }

    pub fn n_classes(&self) -> usize {
        self.n_classes
    }

    pub fn n_features(&self) -> usize {
        self.n_features
    }

    /// The labels that occurred in the training data, ascending.
    pub fn classes(&self) -> &[u32] {
        &self.classes
    }

    /// Class-major per-class feature means (rows follow [`Self::classes`]).
    pub fn means(&self) -> &[f64] {
        &self.means
    }

    /// Class-major per-class feature variances, smoothing included.
    pub fn variances(&self) -> &[f64] {
        &self.variances
    }

    /// The smoothing added to every variance: `var_smoothing * largest feature variance`.
    pub fn epsilon(&self) -> f64 {
        self.epsilon
    }
}

#[cfg(test)]
mod tests {
    use smartcore::linalg::basic::matrix::DenseMatrix;
    use smartcore::naive_bayes::gaussian::{GaussianNB as ScGaussianNb, GaussianNBParameters};

    use super::*;
    use crate::test_util::{argmax, assert_close, data_message, dense, matrix, probabilities};

    const NB_X: [[f64; 3]; 18] = [
        [-0.13, -1.44, 1.67],
        [0.37, 2.11, 1.03],
        [-0.32, -1.45, 1.66],
        [1.8, -0.82, 0.68],
        [0.42, -0.83, 0.86],
        [-0.24, 0.19, 1.55],
        [1.52, 1.92, -0.21],
        [1.73, -1.14, -0.72],
        [2.06, 0.41, 0.29],
        [1.88, 2.32, 0.41],
        [2.21, 0.89, -0.35],
        [0.99, 0.51, -0.56],
        [-0.38, 1.91, 2.13],
        [-0.24, 0.08, 1.96],
        [0.16, 3.08, 2.29],
        [-0.45, 1.28, 3.01],
        [0.53, 3.83, 3.06],
        [-0.57, 2.39, 2.23],
    ];
    const NB_Y: [u32; 18] = [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2];
    const NB_Q: [[f64; 3]; 5] = [
        [1.17, 1.65, 1.24],
        [0.71, -0.8, 0.8],
        [-0.4, 1.15, 0.44],
        [1.24, 1.98, 1.37],
        [0.88, 1.11, 0.46],
    ];

    /// scikit-learn `GaussianNB()` probabilities of the rows of NB_X.
    #[rustfmt::skip]
    const NB_SKLEARN_TRAIN: [[f64; 3]; 18] = [
        [0.9848389745897028, 6.291805851354448e-10, 0.015161024781116533],
        [0.974853399104604, 0.0003260942868329481, 0.024820506608562953],
        [0.9844541896263773, 7.92168271920808e-11, 0.01554581029440598],
        [0.3679689744334045, 0.6320310251641253, 4.0247000489275653e-10],
        [0.9997400690609307, 0.00020326849555049806, 5.666244351893666e-05],
        [0.8970307134287998, 2.216275498673048e-09, 0.10296928435492465],
        [5.97715622631795e-05, 0.9999402284371786, 5.583937820503926e-13],
        [3.8858206113798016e-06, 0.9999961141793884, 2.1727736756911865e-18],
        [0.003964925683590586, 0.996035074316221, 1.8848039017530548e-13],
        [0.0039866171382921525, 0.9960133827964641, 6.524373982386214e-11],
        [7.993140606568294e-06, 0.9999920068593935, 3.994024093816193e-18],
        [8.900904678774009e-05, 0.9999109909523963, 8.158154145648941e-13],
        [0.008444687559377615, 1.3940452538285086e-13, 0.9915553124404829],
        [0.3746743052017328, 3.069559752158778e-11, 0.6253256947675714],
        [0.0007497095625515727, 2.229544177209951e-12, 0.9992502904352188],
        [2.9316507129131066e-05, 1.5437461582361046e-19, 0.9999706834928711],
        [2.0884392839931873e-06, 5.978070831875871e-16, 0.9999979115607157],
        [0.0021260642240626994, 2.0224409700514045e-15, 0.9978739357759353],
    ];

    /// scikit-learn `GaussianNB()` probabilities of NB_Q.
    #[rustfmt::skip]
    const NB_SKLEARN_QUERY: [[f64; 3]; 5] = [
        [0.9885211623887863, 0.01086969258244968, 0.0006091450287640505],
        [0.9966334719978275, 0.003355193730773005, 1.1334271399566576e-05],
        [0.9995006537678647, 9.356131330316966e-06, 0.0004899901008053121],
        [0.9920216498662259, 0.006524474878474518, 0.001453875255300062],
        [0.48873478382536145, 0.5112586047993655, 6.6113752727982345e-06],
    ];

    /// scikit-learn `GaussianNB(var_smoothing=0.5)` probabilities of NB_Q.
    #[rustfmt::skip]
    const NB_SKLEARN_QUERY_SMOOTH: [[f64; 3]; 5] = [
        [0.33113671301958736, 0.37653857406393776, 0.29232471291647455],
        [0.6813355475601637, 0.2643306050809548, 0.0543338473588814],
        [0.5190776284673216, 0.22238669690126484, 0.2585356746314132],
        [0.2865434892864571, 0.3455421564824226, 0.36791435423111996],
        [0.34751036813287994, 0.5419956555348923, 0.11049397633222777],
    ];

    #[test]
    fn gaussian_nb_matches_sklearn() {
        let x = matrix(&NB_X);
        // scikit-learn GaussianNB(var_smoothing=...).predict_proba on the training rows and
        // on NB_Q.
        let model = GaussianNb::fit(&x, &NB_Y, 3, &GaussianNbParams::default()).unwrap();
        let train = probabilities(3, 18, |i, out| model.predict_proba_into(&x.row(i), out));
        assert_close(&train, &NB_SKLEARN_TRAIN.concat(), 1e-12, "train (1e-9)");
        let query = probabilities(3, 5, |i, out| model.predict_proba_into(&NB_Q[i], out));
        assert_close(&query, &NB_SKLEARN_QUERY.concat(), 1e-12, "query (1e-9)");
        let model =
            GaussianNb::fit(&x, &NB_Y, 3, &GaussianNbParams { var_smoothing: 0.5 }).unwrap();
        let query = probabilities(3, 5, |i, out| model.predict_proba_into(&NB_Q[i], out));
        assert_close(
            &query,
            &NB_SKLEARN_QUERY_SMOOTH.concat(),
            1e-12,
            "query (0.5)",
        );
        // sklearn's var_ with var_smoothing=0.5: the smoothing is the same for every entry.
        assert_close(
            &model.variances()[..3],
            &[1.7400722222222225, 2.7502055555555556, 1.378563888888889],
            1e-12,
            "variances",
        );
    }

    #[test]
    fn gaussian_nb_without_smoothing_agrees_with_smartcore() {
        let x = matrix(&NB_X);
        let model =
            GaussianNb::fit(&x, &NB_Y, 3, &GaussianNbParams { var_smoothing: 0.0 }).unwrap();
        assert_eq!(model.epsilon(), 0.0);
        let sc = ScGaussianNb::<f64, u32, DenseMatrix<f64>, Vec<u32>>::fit(
            &dense(&NB_X),
            &NB_Y.to_vec(),
            GaussianNBParameters::default(),
        )
        .unwrap();
        let flat = |v: &Vec<Vec<f64>>| v.concat();
        assert_close(model.means(), &flat(sc.theta()), 1e-12, "means");
        assert_close(model.variances(), &flat(sc.var()), 1e-12, "variances");
        let mut queries: Vec<[f64; 3]> = NB_X.to_vec();
        queries.extend(NB_Q);
        let predicted = sc.predict(&dense(&queries)).unwrap();
        for (q, &label) in queries.iter().zip(&predicted) {
            let mut out = [0.0; 3];
            model.predict_proba_into(q, &mut out);
            assert_eq!(argmax(&out) as u32, label, "{q:?}");
        }
        // The default smoothing changes no prediction here either.
        let model = GaussianNb::fit(&x, &NB_Y, 3, &GaussianNbParams::default()).unwrap();
        for (q, &label) in queries.iter().zip(&predicted) {
            let mut out = [0.0; 3];
            model.predict_proba_into(q, &mut out);
            assert_eq!(argmax(&out) as u32, label, "{q:?}");
        }
    }

    #[test]
    fn gaussian_nb_handles_large_offsets_and_constant_features() {
        // A feature around 1e9 with unit spread: E[x²] - E[x]² (smartcore) loses it all; the
        // two-pass variance does not. Feature 1 is constant within each class (one-hot like).
        let rows: Vec<[f64; 2]> = (0..12)
            .map(|i| {
                let class = i % 2;
                [1e9 + (i as f64) * 0.5 + class as f64 * 3.0, class as f64]
            })
            .collect();
        let y: Vec<u32> = (0..12).map(|i| i % 2).collect();
        let model = GaussianNb::fit(&matrix(&rows), &y, 2, &GaussianNbParams::default()).unwrap();
        // Class 0 rows are i = 0, 2, ..., 10: values 1e9 + 0, 1, ..., 5 → variance 35/12.
        assert!((model.variances()[0] - 35.0 / 12.0).abs() < 1e-6);
        let mut out = [0.0; 2];
        model.predict_proba_into(&rows[3], &mut out);
        assert!(out[1] > 0.99 && out.iter().all(|p| p.is_finite()));
        // A row far outside the data (every log-likelihood -inf) gets no NaN.
        model.predict_proba_into(&[1e200, 0.0], &mut out);
        assert_eq!(out, [0.5, 0.5]);
        // Without smoothing, the within-class constant feature is an error naming it.
        let error = GaussianNb::fit(
            &matrix(&rows),
            &y,
            2,
            &GaussianNbParams { var_smoothing: 0.0 },
        )
        .unwrap_err();
        let message = data_message(error);
        assert!(message.contains("feature 1"), "{message}");
    }
}
