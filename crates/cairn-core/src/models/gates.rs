//! `[model.NAME.gates]`: what a version of a model must pass before it is deployed
//! (docs/guide/gates.md). The syntax:
//!
//! ```toml
//! [model.churn.gates]
//! accuracy = { min = 0.80 }                     # any metric: { min = … }, { max = … } or both
//! log_loss = { max = 0.5 }
//! latency = { p99_ms = 5, p50_ms = 1, calls = 1000 }
//! fairness = { group = "region", metric = "recall", max_gap = 0.10 }
//! no_regression = { metric = "roc_auc", tolerance = 0.01 }
//! determinism = true
//! ```
//!
//! Reading the table checks the shapes (which keys, which types); [`check`] checks the values
//! against the model's algorithm (a metric must fit its task, a threshold its metric's range).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::Algorithm;

/// A metric a gate can measure, as scikit-learn defines it (`cairn_model::metrics`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    Accuracy,
    BalancedAccuracy,
    Precision,
    Recall,
    F1,
    RocAuc,
    LogLoss,
    Rmse,
    Mae,
    R2,
}

impl Metric {
    pub const ALL: [Metric; 10] = [
        Metric::Accuracy,
        Metric::BalancedAccuracy,
        Metric::Precision,
        Metric::Recall,
        Metric::F1,
        Metric::RocAuc,
        Metric::LogLoss,
        Metric::Rmse,
        Metric::Mae,
        Metric::R2,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Metric::Accuracy => "accuracy",
            Metric::BalancedAccuracy => "balanced_accuracy",
            Metric::Precision => "precision",
            Metric::Recall => "recall",
            Metric::F1 => "f1",
            Metric::RocAuc => "roc_auc",
            Metric::LogLoss => "log_loss",
            Metric::Rmse => "rmse",
            Metric::Mae => "mae",
            Metric::R2 => "r2",
        }
    }

    pub fn parse(name: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.as_str() == name)
    }

    /// A metric of classifiers (the others are metrics of regressors).
    pub fn is_classification(self) -> bool {
        !matches!(self, Metric::Rmse | Metric::Mae | Metric::R2)
    }

    /// Whether the metric fits a model trained with `algorithm`.
    pub fn fits(self, algorithm: Algorithm) -> bool {
        self.is_classification() == algorithm.is_classifier()
    }

    /// Larger is better (accuracy, r2…); the losses (log_loss, rmse, mae) are better smaller.
    pub fn higher_is_better(self) -> bool {
        !matches!(self, Metric::LogLoss | Metric::Rmse | Metric::Mae)
    }

    /// The values the metric can take: `[0, 1]` for the ratios and ROC-AUC, `[0, ∞)` for the
    /// losses, `(-∞, 1]` for R².
    pub fn range(self) -> (f64, f64) {
        match self {
            Metric::LogLoss | Metric::Rmse | Metric::Mae => (0.0, f64::INFINITY),
            Metric::R2 => (f64::NEG_INFINITY, 1.0),
            _ => (0.0, 1.0),
        }
    }

    /// The metrics of a task, for messages.
    pub fn of_task(classifier: bool) -> impl Iterator<Item = Metric> {
        Metric::ALL
            .into_iter()
            .filter(move |m| m.is_classification() == classifier)
    }

    fn describe_range(self) -> &'static str {
        match self.range() {
            (_, f64::INFINITY) => "[0, ∞)",
            (f64::NEG_INFINITY, _) => "(-∞, 1]",
            _ => "[0, 1]",
        }
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A metric gate: the measured value must be at least `min` and at most `max` (one of them,
/// or both).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bounds {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
}

impl Bounds {
    /// Whether `value` is within the bounds (inclusive).
    pub fn admits(&self, value: f64) -> bool {
        self.min.is_none_or(|min| value >= min) && self.max.is_none_or(|max| value <= max)
    }
}

/// The calls of a latency gate when `calls` is not given.
pub const DEFAULT_LATENCY_CALLS: u64 = 1000;
/// The most calls a latency gate may ask for.
pub const MAX_LATENCY_CALLS: u64 = 10_000_000;

/// `latency = { p99_ms = 5, p50_ms = 1, calls = 1000 }`: percentiles of the time one
/// single-row prediction takes, in process, over `calls` calls.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatencyGate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p50_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99_ms: Option<f64>,
    #[serde(default = "default_calls")]
    pub calls: u64,
}

fn default_calls() -> u64 {
    DEFAULT_LATENCY_CALLS
}

/// `fairness = { group = "region", metric = "recall", max_gap = 0.10 }`: the metric on the rows
/// of each value of the `group` column may differ from the metric on all rows by at most
/// `max_gap`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FairnessGate {
    pub group: String,
    pub metric: Metric,
    pub max_gap: f64,
}

/// `no_regression = { metric = "roc_auc", tolerance = 0.01 }`: not worse than the current
/// production version on the same rows by more than `tolerance`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoRegressionGate {
    pub metric: Metric,
    pub tolerance: f64,
}

/// `[model.NAME.gates]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "toml::Table", into = "toml::Table")]
pub struct Gates {
    /// Metric thresholds, by metric.
    pub metrics: BTreeMap<Metric, Bounds>,
    pub latency: Option<LatencyGate>,
    pub fairness: Option<FairnessGate>,
    pub no_regression: Option<NoRegressionGate>,
    /// `determinism = true`: scoring the same rows twice gives the same bytes.
    pub determinism: bool,
}

/// The keys of the gates table that are not metrics.
pub const GATE_KEYS: [&str; 4] = ["latency", "fairness", "no_regression", "determinism"];

impl Gates {
    /// Whether no gate is declared.
    pub fn is_empty(&self) -> bool {
        self.metrics.is_empty()
            && self.latency.is_none()
            && self.fairness.is_none()
            && self.no_regression.is_none()
            && !self.determinism
    }
}

fn known_keys() -> String {
    let metrics: Vec<&str> = Metric::ALL.iter().map(|m| m.as_str()).collect();
    format!(
        "gates: {}; metrics: {}",
        GATE_KEYS.join(", "),
        metrics.join(", ")
    )
}

impl TryFrom<toml::Table> for Gates {
    type Error = String;

    fn try_from(table: toml::Table) -> Result<Self, String> {
        let mut gates = Gates::default();
        for (key, value) in table {
            let at = |e: &dyn fmt::Display| format!("`gates.{key}`: {e}");
            match key.as_str() {
                "latency" => gates.latency = Some(value.try_into().map_err(|e| at(&e))?),
                "fairness" => gates.fairness = Some(value.try_into().map_err(|e| at(&e))?),
                "no_regression" => {
                    gates.no_regression = Some(value.try_into().map_err(|e| at(&e))?)
                }
                "determinism" => match value {
                    toml::Value::Boolean(b) => gates.determinism = b,
                    _ => return Err(at(&"expected `true` or `false`")),
                },
                name => {
                    let Some(metric) = Metric::parse(name) else {
                        return Err(format!(
                            "`gates.{name}` is neither a gate nor a metric ({})",
                            known_keys()
                        ));
                    };
                    if !value.is_table() {
                        return Err(at(&"a metric gate is `{ min = … }`, `{ max = … }` or both"));
                    }
                    gates
                        .metrics
                        .insert(metric, value.try_into().map_err(|e| at(&e))?);
                }
            }
        }
        Ok(gates)
    }
}

impl From<Gates> for toml::Table {
    fn from(gates: Gates) -> toml::Table {
        let mut table = toml::Table::new();
        let mut put = |key: &str, value: Result<toml::Value, toml::ser::Error>| {
            // Plain structs of numbers and strings always serialize.
            if let Ok(value) = value {
                table.insert(key.to_owned(), value);
            }
        };
        for (metric, bounds) in &gates.metrics {
            put(metric.as_str(), toml::Value::try_from(bounds));
        }
        if let Some(latency) = &gates.latency {
            put("latency", toml::Value::try_from(latency));
        }
        if let Some(fairness) = &gates.fairness {
            put("fairness", toml::Value::try_from(fairness));
        }
        if let Some(no_regression) = &gates.no_regression {
            put("no_regression", toml::Value::try_from(no_regression));
        }
        if gates.determinism {
            put("determinism", Ok(toml::Value::Boolean(true)));
        }
        table
    }
}

/// Checks the gates of model `name`, trained with `algorithm`, against what the table's shape
/// cannot say: every metric fits the model's task, every threshold is a value its measure can
/// take, the fairness gate names a column. Errors name the key.
pub fn check(name: &str, algorithm: Algorithm, gates: &Gates) -> Result<(), String> {
    let at = |key: &str| format!("`model.{name}.gates.{key}`");
    let fits = |key: &str, metric: Metric| -> Result<(), String> {
        if metric.fits(algorithm) {
            return Ok(());
        }
        let task = |classifier: bool| {
            if classifier {
                "classifier"
            } else {
                "regressor"
            }
        };
        let metrics: Vec<&str> = Metric::of_task(algorithm.is_classifier())
            .map(Metric::as_str)
            .collect();
        Err(format!(
            "{}: {metric} measures a {}, and {algorithm} is a {} (its metrics: {})",
            at(key),
            task(metric.is_classification()),
            task(algorithm.is_classifier()),
            metrics.join(", ")
        ))
    };
    for (metric, bounds) in &gates.metrics {
        let key = metric.as_str();
        fits(key, *metric)?;
        if bounds.min.is_none() && bounds.max.is_none() {
            return Err(format!(
                "{}: give a threshold: `{{ min = … }}`, `{{ max = … }}` or both",
                at(key)
            ));
        }
        let (low, high) = metric.range();
        for (side, value) in [("min", bounds.min), ("max", bounds.max)] {
            if let Some(v) = value
                && !(v.is_finite() && v >= low && v <= high)
            {
                return Err(format!(
                    "{}: {v} is outside the range of {metric}, {}",
                    at(&format!("{key}.{side}")),
                    metric.describe_range()
                ));
            }
        }
        if let (Some(min), Some(max)) = (bounds.min, bounds.max)
            && min > max
        {
            return Err(format!(
                "{}: min {min} is above max {max}: no value passes",
                at(key)
            ));
        }
    }
    if let Some(latency) = &gates.latency {
        if latency.p50_ms.is_none() && latency.p99_ms.is_none() {
            return Err(format!(
                "{}: give a threshold: `p50_ms`, `p99_ms` or both (milliseconds)",
                at("latency")
            ));
        }
        for (key, value) in [("p50_ms", latency.p50_ms), ("p99_ms", latency.p99_ms)] {
            if let Some(v) = value
                && !(v.is_finite() && v > 0.0)
            {
                return Err(format!(
                    "{}: {v} is not a time a prediction can take: give a positive number of milliseconds",
                    at(&format!("latency.{key}"))
                ));
            }
        }
        if !(1..=MAX_LATENCY_CALLS).contains(&latency.calls) {
            return Err(format!(
                "{}: {} calls: give between 1 and {MAX_LATENCY_CALLS}",
                at("latency.calls"),
                latency.calls
            ));
        }
    }
    if let Some(fairness) = &gates.fairness {
        if fairness.group.trim().is_empty() {
            return Err(format!(
                "{}: name the column whose values form the groups",
                at("fairness.group")
            ));
        }
        fits("fairness.metric", fairness.metric)?;
        check_spread(&at("fairness.max_gap"), fairness.metric, fairness.max_gap)?;
    }
    if let Some(no_regression) = &gates.no_regression {
        fits("no_regression.metric", no_regression.metric)?;
        check_spread(
            &at("no_regression.tolerance"),
            no_regression.metric,
            no_regression.tolerance,
        )?;
    }
    Ok(())
}

/// A gap or a tolerance: at least 0, and no wider than the metric's range.
fn check_spread(key: &str, metric: Metric, value: f64) -> Result<(), String> {
    let (low, high) = metric.range();
    let width = high - low;
    if !(value.is_finite() && value >= 0.0 && value <= width) {
        let most = if width.is_finite() {
            format!(" and at most {width}")
        } else {
            String::new()
        };
        return Err(format!(
            "{key}: {value} is not a difference of {metric}: give a number at least 0{most}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gates(text: &str) -> Result<Gates, String> {
        let table: toml::Table = toml::from_str(text).map_err(|e| e.to_string())?;
        Gates::try_from(table)
    }

    fn checked(algorithm: Algorithm, text: &str) -> Result<Gates, String> {
        let g = gates(text)?;
        check("churn", algorithm, &g)?;
        Ok(g)
    }

    const ISSUE_SYNTAX: &str = r#"
accuracy = { min = 0.80 }
log_loss = { max = 0.5 }
latency = { p99_ms = 5, p50_ms = 1, calls = 1000 }
fairness = { group = "region", metric = "recall", max_gap = 0.10 }
no_regression = { metric = "roc_auc", tolerance = 0.01 }
determinism = true
"#;

    #[test]
    fn the_issue_syntax_reads_as_typed_gates_and_round_trips() {
        let g = checked(Algorithm::RandomForestClassifier, ISSUE_SYNTAX).unwrap();
        assert_eq!(
            g.metrics[&Metric::Accuracy],
            Bounds {
                min: Some(0.8),
                max: None
            }
        );
        assert_eq!(g.metrics[&Metric::LogLoss].max, Some(0.5));
        assert_eq!(
            g.latency,
            Some(LatencyGate {
                p50_ms: Some(1.0),
                p99_ms: Some(5.0),
                calls: 1000
            })
        );
        let fairness = g.fairness.clone().unwrap();
        assert_eq!(
            (fairness.group.as_str(), fairness.metric, fairness.max_gap),
            ("region", Metric::Recall, 0.1)
        );
        assert_eq!(
            g.no_regression,
            Some(NoRegressionGate {
                metric: Metric::RocAuc,
                tolerance: 0.01
            })
        );
        assert!(g.determinism && !g.is_empty());
        // Written back and read again: the same gates.
        let table: toml::Table = g.clone().into();
        let text = toml::to_string(&table).unwrap();
        assert_eq!(gates(&text).unwrap(), g);
        // Calls default to 1000.
        let g = gates("latency = { p99_ms = 5 }").unwrap();
        assert_eq!(g.latency.unwrap().calls, DEFAULT_LATENCY_CALLS);
        assert!(gates("").unwrap().is_empty());
    }

    #[test]
    fn unknown_metrics_and_wrong_shapes_are_refused_naming_the_key() {
        let e = gates("acuracy = { min = 0.8 }").unwrap_err();
        assert!(
            e.contains("`gates.acuracy` is neither a gate nor a metric") && e.contains("accuracy"),
            "{e}"
        );
        let e = gates("accuracy = 0.8").unwrap_err();
        assert!(e.contains("`gates.accuracy`: a metric gate is"), "{e}");
        let e = gates("accuracy = { minimum = 0.8 }").unwrap_err();
        assert!(
            e.contains("`gates.accuracy`") && e.contains("minimum"),
            "{e}"
        );
        let e = gates("determinism = \"yes\"").unwrap_err();
        assert!(e.contains("`gates.determinism`"), "{e}");
        let e = gates("fairness = { group = \"r\", metric = \"fairness\", max_gap = 0.1 }")
            .unwrap_err();
        assert!(
            e.contains("`gates.fairness`") && e.contains("fairness"),
            "{e}"
        );
        let e = gates("latency = { p99_ms = 5, calls = -3 }").unwrap_err();
        assert!(e.contains("`gates.latency`"), "{e}");
    }

    #[test]
    fn a_metric_must_fit_the_task() {
        let e = checked(Algorithm::LinearRegression, "roc_auc = { min = 0.7 }").unwrap_err();
        assert_eq!(
            e,
            "`model.churn.gates.roc_auc`: roc_auc measures a classifier, and linear_regression is a regressor (its metrics: rmse, mae, r2)"
        );
        let e = checked(Algorithm::GaussianNb, "rmse = { max = 1 }").unwrap_err();
        assert!(e.contains("`model.churn.gates.rmse`"), "{e}");
        let e = checked(
            Algorithm::RidgeRegression,
            "fairness = { group = \"g\", metric = \"recall\", max_gap = 0.1 }",
        )
        .unwrap_err();
        assert!(e.contains("`model.churn.gates.fairness.metric`"), "{e}");
        let e = checked(
            Algorithm::KnnClassifier,
            "no_regression = { metric = \"mae\", tolerance = 0.1 }",
        )
        .unwrap_err();
        assert!(
            e.contains("`model.churn.gates.no_regression.metric`"),
            "{e}"
        );
        checked(
            Algorithm::RidgeRegression,
            "r2 = { min = -3.5 }\nmae = { max = 10 }",
        )
        .unwrap();
    }

    #[test]
    fn thresholds_outside_their_range_are_refused() {
        let clf = Algorithm::RandomForestClassifier;
        let e = checked(clf, "accuracy = { min = 1.5 }").unwrap_err();
        assert_eq!(
            e,
            "`model.churn.gates.accuracy.min`: 1.5 is outside the range of accuracy, [0, 1]"
        );
        let e = checked(clf, "log_loss = { max = -1 }").unwrap_err();
        assert!(e.contains("`model.churn.gates.log_loss.max`"), "{e}");
        let e = checked(Algorithm::LinearRegression, "r2 = { max = 2 }").unwrap_err();
        assert!(e.contains("(-∞, 1]"), "{e}");
        let e = checked(clf, "accuracy = {}").unwrap_err();
        assert!(e.contains("give a threshold"), "{e}");
        let e = checked(clf, "f1 = { min = 0.9, max = 0.8 }").unwrap_err();
        assert!(e.contains("no value passes"), "{e}");
        let e = checked(clf, "latency = { p99_ms = -5 }").unwrap_err();
        assert!(
            e.contains("`model.churn.gates.latency.p99_ms`: -5 is not a time"),
            "{e}"
        );
        let e = checked(clf, "latency = { calls = 10 }").unwrap_err();
        assert!(
            e.contains("`model.churn.gates.latency`: give a threshold"),
            "{e}"
        );
        let e = checked(clf, "latency = { p50_ms = 1, calls = 0 }").unwrap_err();
        assert!(e.contains("`model.churn.gates.latency.calls`"), "{e}");
        let e = checked(
            clf,
            "fairness = { group = \"region\", metric = \"recall\", max_gap = 1.5 }",
        )
        .unwrap_err();
        assert!(e.contains("`model.churn.gates.fairness.max_gap`"), "{e}");
        let e = checked(
            clf,
            "fairness = { group = \" \", metric = \"recall\", max_gap = 0.1 }",
        )
        .unwrap_err();
        assert!(e.contains("`model.churn.gates.fairness.group`"), "{e}");
        let e = checked(
            clf,
            "no_regression = { metric = \"accuracy\", tolerance = -0.1 }",
        )
        .unwrap_err();
        assert!(
            e.contains("`model.churn.gates.no_regression.tolerance`"),
            "{e}"
        );
        // A loss's tolerance has no upper bound.
        checked(
            clf,
            "no_regression = { metric = \"log_loss\", tolerance = 3 }",
        )
        .unwrap();
    }

    #[test]
    fn bounds_admit_inclusively() {
        let b = Bounds {
            min: Some(0.5),
            max: Some(0.7),
        };
        assert!(b.admits(0.5) && b.admits(0.7) && b.admits(0.6));
        assert!(!b.admits(0.49) && !b.admits(0.71));
        assert!(Bounds::default().admits(f64::MAX));
    }
}
