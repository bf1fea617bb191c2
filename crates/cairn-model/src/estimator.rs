//! The algorithms behind one enum: params read and checked by name, fit, and prediction.

use std::collections::{BTreeMap, BTreeSet};

use cairn_core::models::Algorithm;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::forest::{ForestClassifier, ForestParams, ForestRegressor};
use crate::knn::{KnnClassifier, KnnDistance, KnnParams, KnnRegressor, KnnWeights};
use crate::linear::{
    LinearParams, LinearRegression, LinearSolver, LogisticParams, LogisticRegression, RidgeParams,
    RidgeRegression, RidgeSolver,
};
use crate::naive_bayes::{GaussianNb, GaussianNbParams};
use crate::tree::{MaxFeatures, TreeParams};
use crate::{FitError, Matrix};

/// What a model learns to predict.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    /// Class indices in `0..n_classes`.
    Classes {
        y: &'a [u32],
        n_classes: usize,
    },
    Values(&'a [f64]),
}

/// A fitted model of one of the algorithms.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Fitted {
    ForestClassifier(ForestClassifier),
    ForestRegressor(ForestRegressor),
    Logistic(LogisticRegression),
    Linear(LinearRegression),
    Ridge(RidgeRegression),
    KnnClassifier(KnnClassifier),
    KnnRegressor(KnnRegressor),
    GaussianNb(GaussianNb),
}

/// The params of each algorithm with their defaults, for errors and docs.
pub fn param_names(algorithm: Algorithm) -> &'static [&'static str] {
    match algorithm {
        Algorithm::RandomForestClassifier | Algorithm::RandomForestRegressor => &[
            "n_trees",
            "max_depth",
            "min_samples_split",
            "min_samples_leaf",
            "max_features",
            "max_bins",
            "bootstrap",
        ],
        Algorithm::DecisionTreeClassifier | Algorithm::DecisionTreeRegressor => &[
            "max_depth",
            "min_samples_split",
            "min_samples_leaf",
            "max_features",
            "max_bins",
        ],
        Algorithm::LogisticRegression => &["alpha"],
        Algorithm::LinearRegression => &["solver"],
        Algorithm::RidgeRegression => &["alpha", "solver"],
        Algorithm::KnnClassifier | Algorithm::KnnRegressor => &["k", "weights", "distance"],
        Algorithm::GaussianNb => &["var_smoothing"],
    }
}

/// Reads params by name, recording the value used (given or default) of each.
struct Params<'a> {
    algorithm: Algorithm,
    given: &'a BTreeMap<String, Value>,
    resolved: BTreeMap<String, Value>,
}

fn param_err(name: &str, message: impl Into<String>) -> FitError {
    FitError::Param {
        name: name.to_owned(),
        message: message.into(),
    }
}

impl<'a> Params<'a> {
    fn new(algorithm: Algorithm, given: &'a BTreeMap<String, Value>) -> Result<Self, FitError> {
        let known = param_names(algorithm);
        if let Some(unknown) = given.keys().find(|k| !known.contains(&k.as_str())) {
            let list = if known.is_empty() {
                "it takes none".to_owned()
            } else {
                format!("its params: {}", known.join(", "))
            };
            return Err(param_err(
                unknown,
                format!("{algorithm} has no such param ({list})"),
            ));
        }
        Ok(Params {
            algorithm,
            given,
            resolved: BTreeMap::new(),
        })
    }

    fn get(&mut self, name: &str, default: Value) -> Value {
        let value = self.given.get(name).cloned().unwrap_or(default);
        self.resolved.insert(name.to_owned(), value.clone());
        value
    }

    fn count(&mut self, name: &str, default: u64, min: u64) -> Result<usize, FitError> {
        let value = self.get(name, default.into());
        let n = value
            .as_u64()
            .ok_or_else(|| param_err(name, format!("expected a whole number, got {value}")))?;
        if n < min {
            return Err(param_err(name, format!("must be at least {min}, got {n}")));
        }
        usize::try_from(n).map_err(|_| param_err(name, format!("{n} is too large")))
    }

    fn number(&mut self, name: &str, default: f64) -> Result<f64, FitError> {
        let value = self.get(name, default.into());
        let x = value
            .as_f64()
            .ok_or_else(|| param_err(name, format!("expected a number, got {value}")))?;
        if !x.is_finite() || x < 0.0 {
            return Err(param_err(
                name,
                format!("must be a finite number ≥ 0, got {x}"),
            ));
        }
        Ok(x)
    }

    fn flag(&mut self, name: &str, default: bool) -> Result<bool, FitError> {
        let value = self.get(name, default.into());
        value
            .as_bool()
            .ok_or_else(|| param_err(name, format!("expected true or false, got {value}")))
    }

    fn max_depth(&mut self) -> Result<Option<usize>, FitError> {
        let value = self.get("max_depth", Value::String("none".into()));
        match &value {
            Value::String(s) if s == "none" => Ok(None),
            _ => value
                .as_u64()
                .and_then(|n| usize::try_from(n).ok())
                .map(Some)
                .ok_or_else(|| {
                    param_err(
                        "max_depth",
                        format!("expected a whole number or \"none\", got {value}"),
                    )
                }),
        }
    }

    fn max_features(&mut self, default: &str) -> Result<MaxFeatures, FitError> {
        let value = self.get("max_features", Value::String(default.into()));
        let bad = || {
            param_err(
                "max_features",
                format!(
                    "expected \"sqrt\", \"log2\", \"all\", a count of features or a fraction in (0, 1], got {value}"
                ),
            )
        };
        match &value {
            Value::String(s) => match s.as_str() {
                "sqrt" => Ok(MaxFeatures::Sqrt),
                "log2" => Ok(MaxFeatures::Log2),
                "all" => Ok(MaxFeatures::All),
                _ => Err(bad()),
            },
            Value::Number(n) if n.is_u64() => n
                .as_u64()
                .and_then(|n| usize::try_from(n).ok())
                .filter(|n| *n > 0)
                .map(MaxFeatures::Count)
                .ok_or_else(bad),
            Value::Number(n) => n
                .as_f64()
                .filter(|f| *f > 0.0 && *f <= 1.0)
                .map(MaxFeatures::Fraction)
                .ok_or_else(bad),
            _ => Err(bad()),
        }
    }

    fn tree(&mut self, max_features_default: &str) -> Result<TreeParams, FitError> {
        Ok(TreeParams {
            max_depth: self.max_depth()?,
            min_samples_split: self.count("min_samples_split", 2, 2)?,
            min_samples_leaf: self.count("min_samples_leaf", 1, 1)?,
            max_features: self.max_features(max_features_default)?,
            max_bins: self.count("max_bins", 255, 2)?,
        })
    }

    /// One of a few named values; `choices[0]` is the default.
    fn choice<T: Copy>(&mut self, name: &str, choices: &[(&str, T)]) -> Result<T, FitError> {
        let value = self.get(name, Value::String(choices[0].0.into()));
        choices
            .iter()
            .find(|(n, _)| value.as_str() == Some(n))
            .map(|(_, v)| *v)
            .ok_or_else(|| {
                let names: Vec<String> = choices.iter().map(|(n, _)| format!("\"{n}\"")).collect();
                param_err(
                    name,
                    format!("expected {}, got {value}", names.join(" or ")),
                )
            })
    }

    fn knn(&mut self) -> Result<KnnParams, FitError> {
        Ok(KnnParams {
            k: self.count("k", 5, 1)?,
            weights: self.choice(
                "weights",
                &[
                    ("uniform", KnnWeights::Uniform),
                    ("distance", KnnWeights::Distance),
                ],
            )?,
            distance: self.choice(
                "distance",
                &[
                    ("euclidean", KnnDistance::Euclidean),
                    ("manhattan", KnnDistance::Manhattan),
                ],
            )?,
        })
    }
}

/// Refuses params `algorithm` does not have, before any data is read.
pub fn check_param_names(
    algorithm: Algorithm,
    params: &BTreeMap<String, Value>,
) -> Result<(), FitError> {
    Params::new(algorithm, params).map(|_| ())
}

fn classes<'a>(algorithm: Algorithm, target: Target<'a>) -> Result<(&'a [u32], usize), FitError> {
    match target {
        Target::Classes { y, n_classes } => Ok((y, n_classes)),
        Target::Values(_) => Err(FitError::Data(format!(
            "{algorithm} is a classifier: it needs class labels"
        ))),
    }
}

fn values<'a>(algorithm: Algorithm, target: Target<'a>) -> Result<&'a [f64], FitError> {
    match target {
        Target::Values(y) => Ok(y),
        Target::Classes { .. } => Err(FitError::Data(format!(
            "{algorithm} is a regressor: it needs numbers"
        ))),
    }
}

/// Fits `algorithm` with `params` (checked by name; unknown ones are refused) on `x`.
/// Returns the fitted model and every param's value as used, defaults included.
/// `progress(done, total)` reports trees built (forests) or 0/1 (the others).
pub fn fit(
    algorithm: Algorithm,
    params: &BTreeMap<String, Value>,
    seed: u64,
    x: &Matrix,
    target: Target<'_>,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<(Fitted, BTreeMap<String, Value>), FitError> {
    let mut p = Params::new(algorithm, params)?;
    let fitted = match algorithm {
        Algorithm::RandomForestClassifier | Algorithm::RandomForestRegressor => {
            let n_trees = p.count("n_trees", 100, 1)?;
            let classifier = algorithm == Algorithm::RandomForestClassifier;
            let tree = p.tree(if classifier { "sqrt" } else { "all" })?;
            let bootstrap = p.flag("bootstrap", true)?;
            let fp = ForestParams {
                n_trees,
                tree,
                bootstrap,
                seed,
            };
            let report = |done: usize| progress(done, n_trees);
            if classifier {
                let (y, n) = classes(algorithm, target)?;
                Fitted::ForestClassifier(ForestClassifier::fit(x, y, n, &fp, &report)?)
            } else {
                Fitted::ForestRegressor(ForestRegressor::fit(
                    x,
                    values(algorithm, target)?,
                    &fp,
                    &report,
                )?)
            }
        }
        Algorithm::DecisionTreeClassifier | Algorithm::DecisionTreeRegressor => {
            let fp = ForestParams {
                n_trees: 1,
                tree: p.tree("all")?,
                bootstrap: false,
                seed,
            };
            let report = |done: usize| progress(done, 1);
            if algorithm == Algorithm::DecisionTreeClassifier {
                let (y, n) = classes(algorithm, target)?;
                Fitted::ForestClassifier(ForestClassifier::fit(x, y, n, &fp, &report)?)
            } else {
                Fitted::ForestRegressor(ForestRegressor::fit(
                    x,
                    values(algorithm, target)?,
                    &fp,
                    &report,
                )?)
            }
        }
        Algorithm::LogisticRegression => {
            let lp = LogisticParams {
                alpha: p.number("alpha", 0.0)?,
            };
            let (y, n) = classes(algorithm, target)?;
            let m = LogisticRegression::fit(x, y, n, &lp)?;
            progress(1, 1);
            Fitted::Logistic(m)
        }
        Algorithm::LinearRegression => {
            let lp = LinearParams {
                solver: p.choice(
                    "solver",
                    &[("svd", LinearSolver::Svd), ("qr", LinearSolver::Qr)],
                )?,
            };
            let m = LinearRegression::fit(x, values(algorithm, target)?, &lp)?;
            progress(1, 1);
            Fitted::Linear(m)
        }
        Algorithm::RidgeRegression => {
            let rp = RidgeParams {
                alpha: p.number("alpha", 1.0)?,
                solver: p.choice(
                    "solver",
                    &[
                        ("cholesky", RidgeSolver::Cholesky),
                        ("svd", RidgeSolver::Svd),
                    ],
                )?,
            };
            let m = RidgeRegression::fit(x, values(algorithm, target)?, &rp)?;
            progress(1, 1);
            Fitted::Ridge(m)
        }
        Algorithm::KnnClassifier => {
            let kp = p.knn()?;
            let (y, n) = classes(algorithm, target)?;
            let m = KnnClassifier::fit(x, y, n, &kp)?;
            progress(1, 1);
            Fitted::KnnClassifier(m)
        }
        Algorithm::KnnRegressor => {
            let kp = p.knn()?;
            let m = KnnRegressor::fit(x, values(algorithm, target)?, &kp)?;
            progress(1, 1);
            Fitted::KnnRegressor(m)
        }
        Algorithm::GaussianNb => {
            let gp = GaussianNbParams {
                var_smoothing: p.number("var_smoothing", 1e-9)?,
            };
            let (y, n) = classes(algorithm, target)?;
            let m = GaussianNb::fit(x, y, n, &gp)?;
            progress(1, 1);
            Fitted::GaussianNb(m)
        }
    };
    debug_assert!(
        p.resolved
            .keys()
            .all(|k| param_names(p.algorithm).contains(&k.as_str()))
    );
    let unused: BTreeSet<_> = param_names(algorithm)
        .iter()
        .filter(|k| !p.resolved.contains_key(**k))
        .collect();
    debug_assert!(unused.is_empty(), "params never read: {unused:?}");
    Ok((fitted, p.resolved))
}

impl Fitted {
    /// How many numbers a row must have.
    pub fn n_features(&self) -> usize {
        match self {
            Fitted::ForestClassifier(m) => m.n_features(),
            Fitted::ForestRegressor(m) => m.n_features(),
            Fitted::Logistic(m) => m.n_features(),
            Fitted::Linear(m) => m.coefficients().len(),
            Fitted::Ridge(m) => m.coefficients().len(),
            Fitted::KnnClassifier(m) => m.n_features(),
            Fitted::KnnRegressor(m) => m.n_features(),
            Fitted::GaussianNb(m) => m.n_features(),
        }
    }

    /// The number of classes (classifiers), 0 for regressors.
    pub fn n_classes(&self) -> usize {
        match self {
            Fitted::ForestClassifier(m) => m.n_classes(),
            Fitted::Logistic(m) => m.n_classes(),
            Fitted::KnnClassifier(m) => m.n_classes(),
            Fitted::GaussianNb(m) => m.n_classes(),
            _ => 0,
        }
    }

    /// Whether this fitted model is what `algorithm` produces.
    pub fn is_from(&self, algorithm: Algorithm) -> bool {
        match self {
            Fitted::ForestClassifier(_) => matches!(
                algorithm,
                Algorithm::RandomForestClassifier | Algorithm::DecisionTreeClassifier
            ),
            Fitted::ForestRegressor(_) => matches!(
                algorithm,
                Algorithm::RandomForestRegressor | Algorithm::DecisionTreeRegressor
            ),
            Fitted::Logistic(_) => algorithm == Algorithm::LogisticRegression,
            Fitted::Linear(_) => algorithm == Algorithm::LinearRegression,
            Fitted::Ridge(_) => algorithm == Algorithm::RidgeRegression,
            Fitted::KnnClassifier(_) => algorithm == Algorithm::KnnClassifier,
            Fitted::KnnRegressor(_) => algorithm == Algorithm::KnnRegressor,
            Fitted::GaussianNb(_) => algorithm == Algorithm::GaussianNb,
        }
    }

    pub fn is_classifier(&self) -> bool {
        matches!(
            self,
            Fitted::ForestClassifier(_)
                | Fitted::Logistic(_)
                | Fitted::KnnClassifier(_)
                | Fitted::GaussianNb(_)
        )
    }

    /// Class probabilities of one encoded row into `out` (`n_classes` long). Classifiers only.
    pub fn predict_proba_into(&self, row: &[f64], out: &mut [f64]) {
        match self {
            Fitted::ForestClassifier(m) => m.predict_proba_into(row, out),
            Fitted::Logistic(m) => m.predict_proba_into(row, out),
            Fitted::KnnClassifier(m) => m.predict_proba_into(row, out),
            Fitted::GaussianNb(m) => m.predict_proba_into(row, out),
            _ => unreachable!("predict_proba_into on a regressor"),
        }
    }

    /// The predicted value of one encoded row. Regressors only.
    pub fn predict_value(&self, row: &[f64]) -> f64 {
        match self {
            Fitted::ForestRegressor(m) => m.predict(row),
            Fitted::Linear(m) => m.predict(row),
            Fitted::Ridge(m) => m.predict(row),
            Fitted::KnnRegressor(m) => m.predict(row),
            _ => unreachable!("predict_value on a classifier"),
        }
    }

    /// Class probabilities of every row (row-major, rows × n_classes), in parallel.
    pub fn predict_proba_batch(&self, x: &Matrix, n_classes: usize) -> Vec<f64> {
        use rayon::prelude::*;
        if let Fitted::ForestClassifier(m) = self {
            return m.predict_proba_batch(x);
        }
        let mut out = vec![0.0; x.rows * n_classes];
        out.par_chunks_mut(n_classes.max(1))
            .enumerate()
            .for_each_init(Vec::new, |row, (i, out)| {
                row.clear();
                row.extend(x.columns.iter().map(|c| c[i]));
                self.predict_proba_into(row, out);
            });
        out
    }

    /// Predicted values of every row, in parallel.
    pub fn predict_value_batch(&self, x: &Matrix) -> Vec<f64> {
        use rayon::prelude::*;
        if let Fitted::ForestRegressor(m) = self {
            return m.predict_batch(x);
        }
        (0..x.rows)
            .into_par_iter()
            .map_init(Vec::new, |row, i| {
                row.clear();
                row.extend(x.columns.iter().map(|c| c[i]));
                self.predict_value(row)
            })
            .collect()
    }
}
