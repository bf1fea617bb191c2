//! `[retrain.NAME]`: how `cairn retrain NAME` and `cairn monitor NAME` look after the
//! registered model `NAME` (docs/formats/config.md, docs/guide/retrain.md). The syntax:
//!
//! ```toml
//! [retrain.churn]
//! spec = "churn"                 # the [model.SPEC] to train (default: NAME)
//! window = "7d"                  # recent predictions checked: s, m, h, d (default 7d)
//! metric = "accuracy"            # production metric from labelled predictions
//! min_ratio = 0.95               # retrain below baseline × min_ratio (default 0.95)
//! data = ["data/train.csv"]      # tracked again (`data add`) before training
//! promote = "auto"               # or "manual" (the default): leave the new version in staging
//! webhook = "http://127.0.0.1:9000/hook"    # JSON POST of each alert
//! command = ["notify-send", "cairn"]        # run with the alert's JSON on stdin
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::models::Metric;

/// The share of the production version's recorded metric below which performance dropped,
/// by default.
pub const DEFAULT_MIN_RATIO: f64 = 0.95;

/// The recent predictions checked, by default: seven days.
pub const DEFAULT_WINDOW: &str = "7d";

/// Whether a retrained version that passes every gate goes to production.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PromotePolicy {
    /// Promoted to production when every gate passes.
    Auto,
    /// Left in staging for a person to promote.
    #[default]
    Manual,
}

impl PromotePolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            PromotePolicy::Auto => "auto",
            PromotePolicy::Manual => "manual",
        }
    }
}

/// One `[retrain.NAME]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetrainSpec {
    /// The `[model.SPEC]` trained; `None`: the spec named like the model.
    #[serde(default)]
    pub spec: Option<String>,
    /// How far back the prediction log is read, as a duration (`90s`, `30m`, `24h`, `7d`).
    #[serde(default = "default_window")]
    pub window: String,
    /// The production metric computed from labelled predictions; `None`: accuracy for a
    /// classifier, rmse for a regressor.
    #[serde(default)]
    pub metric: Option<Metric>,
    /// Performance dropped when the production metric is below the recorded figure × this
    /// (for rmse and mae, where smaller is better: above the recorded figure ÷ this).
    #[serde(default = "default_min_ratio")]
    pub min_ratio: f64,
    /// Project paths tracked again before training.
    #[serde(default)]
    pub data: Vec<String>,
    #[serde(default)]
    pub promote: PromotePolicy,
    /// Alerts are POSTed here as JSON (`http://` only).
    #[serde(default)]
    pub webhook: Option<String>,
    /// Alerts are given to this command on its stdin (program and arguments).
    #[serde(default)]
    pub command: Vec<String>,
}

impl Default for RetrainSpec {
    fn default() -> Self {
        RetrainSpec {
            spec: None,
            window: default_window(),
            metric: None,
            min_ratio: DEFAULT_MIN_RATIO,
            data: Vec::new(),
            promote: PromotePolicy::default(),
            webhook: None,
            command: Vec::new(),
        }
    }
}

fn default_window() -> String {
    DEFAULT_WINDOW.to_owned()
}

fn default_min_ratio() -> f64 {
    DEFAULT_MIN_RATIO
}

/// The metrics a production figure can be computed for from labelled predictions.
pub const PRODUCTION_METRICS: [Metric; 8] = [
    Metric::Accuracy,
    Metric::BalancedAccuracy,
    Metric::Precision,
    Metric::Recall,
    Metric::F1,
    Metric::Rmse,
    Metric::Mae,
    Metric::R2,
];

/// Whether smaller values of `metric` are better.
pub fn smaller_is_better(metric: Metric) -> bool {
    matches!(metric, Metric::Rmse | Metric::Mae | Metric::LogLoss)
}

/// A duration such as `90s`, `30m`, `1h`, `7d` (a whole number and a unit), in seconds.
/// `None` when it is not one, or is zero.
pub fn parse_duration(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().ok()?;
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => return None,
    };
    number.checked_mul(scale).filter(|&s| s > 0)
}

/// Checks every `[retrain.NAME]`; the message says which key is wrong.
pub fn check(
    specs: &BTreeMap<String, RetrainSpec>,
    models: &BTreeMap<String, crate::models::ModelSpec>,
) -> Result<(), String> {
    for (name, spec) in specs {
        let at = |key: &str| format!("`retrain.{name}.{key}`");
        if !crate::names::valid_name(name) {
            return Err(format!(
                "`retrain.{name}`: a name uses letters, digits, `-` and `_` only"
            ));
        }
        let trained = spec.spec.as_deref().unwrap_or(name);
        if !models.contains_key(trained) {
            return Err(format!(
                "{}: cairn.toml declares no `[model.{trained}]` to train",
                if spec.spec.is_some() {
                    at("spec")
                } else {
                    format!("`retrain.{name}`")
                }
            ));
        }
        if parse_duration(&spec.window).is_none() {
            return Err(format!(
                "{}: `{}` is not a duration: write a whole number and s, m, h or d (e.g. 7d)",
                at("window"),
                spec.window
            ));
        }
        if !(spec.min_ratio > 0.0 && spec.min_ratio <= 1.0) {
            return Err(format!(
                "{}: {} is not a ratio: give a number above 0 and at most 1",
                at("min_ratio"),
                spec.min_ratio
            ));
        }
        if let Some(metric) = spec.metric
            && !PRODUCTION_METRICS.contains(&metric)
        {
            return Err(format!(
                "{}: `{}` cannot be computed from labelled predictions: use one of {}",
                at("metric"),
                metric.as_str(),
                PRODUCTION_METRICS.map(|m| m.as_str()).join(", ")
            ));
        }
        if let Some(url) = &spec.webhook
            && !url.starts_with("http://")
        {
            return Err(format!(
                "{}: `{url}`: only http:// URLs are supported",
                at("webhook")
            ));
        }
        for path in &spec.data {
            if let Err(e) = cairn_store::RelPath::new(path) {
                return Err(format!("{}: `{path}`: {e}", at("data")));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Some(90));
        assert_eq!(parse_duration("30m"), Some(1_800));
        assert_eq!(parse_duration("1h"), Some(3_600));
        assert_eq!(parse_duration("7d"), Some(604_800));
        assert_eq!(parse_duration("0s"), None);
        assert_eq!(parse_duration("7"), None);
        assert_eq!(parse_duration("h"), None);
        assert_eq!(parse_duration("1w"), None);
    }

    #[test]
    fn parses_and_checks() {
        let spec: RetrainSpec = toml::from_str(
            "metric = \"accuracy\"\npromote = \"auto\"\nwebhook = \"http://127.0.0.1:1/x\"",
        )
        .unwrap();
        assert_eq!(spec.promote, PromotePolicy::Auto);
        assert_eq!(spec.min_ratio, DEFAULT_MIN_RATIO);
        assert_eq!(spec.window, DEFAULT_WINDOW);
        let specs = BTreeMap::from([("churn".to_owned(), spec.clone())]);
        let err = check(&specs, &BTreeMap::new()).unwrap_err();
        assert!(err.contains("no `[model.churn]`"), "{err}");
        let bad = RetrainSpec {
            metric: Some(Metric::RocAuc),
            ..spec
        };
        let models = BTreeMap::from([(
            "churn".to_owned(),
            toml::from_str::<crate::models::ModelSpec>(
                "data = \"d.csv\"\ntarget = \"y\"\nalgorithm = \"logistic_regression\"",
            )
            .unwrap(),
        )]);
        let specs = BTreeMap::from([("churn".to_owned(), bad)]);
        let err = check(&specs, &models).unwrap_err();
        assert!(err.contains("retrain.churn.metric"), "{err}");
    }
}
