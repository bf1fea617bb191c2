//! Model specs in `cairn.toml`: `[model.NAME]` (docs/guide/train.md, docs/formats/config.md).
//!
//! What can be checked without the data is checked when `cairn.toml` is read: names, the
//! algorithm, the split, the column rules. Params are checked by the algorithm when training
//! starts (`cairn-model` knows them); the columns are checked against the table.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::dataset::ColumnType;
use crate::names::valid_name;

/// `[model.NAME]`: what to train, on what, how.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// A tracked table (CSV, Parquet or a directory of them) holding the features and the
    /// target. Exclusive with `entities`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// A tracked entity table (join keys, an event time, the target) joined point-in-time to
    /// feature views; the features are `view:feature` references or a `service`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entities: Option<String>,
    /// With `entities`: the entity table's time column (default `event_timestamp`): each row
    /// gets the features as they were at that time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// With `entities`: a feature service whose features are the inputs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// The column to predict.
    pub target: String,
    /// The input columns, in this order (with `entities`: `view:feature` references). Default:
    /// every column of `data` except the target and `exclude`, in table order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub features: Option<Vec<String>>,
    /// Columns left out when `features` is not given (ids, timestamps).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
    pub algorithm: Algorithm,
    /// The algorithm's params (`docs/guide/train.md` lists them per algorithm).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, toml::Value>,
    /// Seeds the split and the algorithm.
    #[serde(default)]
    pub seed: u64,
    #[serde(default)]
    pub split: SplitSpec,
    /// Per column preprocessing: declared type, imputation, encoding.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub columns: BTreeMap<String, ColumnRule>,
    /// `[model.NAME.gates]`: what a version of this model must pass before it is deployed
    /// (docs/guide/gates.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gates: Option<Gates>,
}

mod gates;

pub use gates::{
    Bounds, DEFAULT_LATENCY_CALLS, FairnessGate, GATE_KEYS, Gates, LatencyGate, MAX_LATENCY_CALLS,
    Metric, NoRegressionGate,
};

/// The algorithms `cairn train` knows.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Algorithm {
    RandomForestClassifier,
    RandomForestRegressor,
    DecisionTreeClassifier,
    DecisionTreeRegressor,
    LogisticRegression,
    LinearRegression,
    RidgeRegression,
    KnnClassifier,
    KnnRegressor,
    GaussianNb,
}

impl Algorithm {
    pub const ALL: [Algorithm; 10] = [
        Algorithm::RandomForestClassifier,
        Algorithm::RandomForestRegressor,
        Algorithm::DecisionTreeClassifier,
        Algorithm::DecisionTreeRegressor,
        Algorithm::LogisticRegression,
        Algorithm::LinearRegression,
        Algorithm::RidgeRegression,
        Algorithm::KnnClassifier,
        Algorithm::KnnRegressor,
        Algorithm::GaussianNb,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::RandomForestClassifier => "random_forest_classifier",
            Algorithm::RandomForestRegressor => "random_forest_regressor",
            Algorithm::DecisionTreeClassifier => "decision_tree_classifier",
            Algorithm::DecisionTreeRegressor => "decision_tree_regressor",
            Algorithm::LogisticRegression => "logistic_regression",
            Algorithm::LinearRegression => "linear_regression",
            Algorithm::RidgeRegression => "ridge_regression",
            Algorithm::KnnClassifier => "knn_classifier",
            Algorithm::KnnRegressor => "knn_regressor",
            Algorithm::GaussianNb => "gaussian_nb",
        }
    }

    /// Classifiers predict a label (and class probabilities); the others a number.
    pub fn is_classifier(self) -> bool {
        matches!(
            self,
            Algorithm::RandomForestClassifier
                | Algorithm::DecisionTreeClassifier
                | Algorithm::LogisticRegression
                | Algorithm::KnnClassifier
                | Algorithm::GaussianNb
        )
    }
}

impl std::fmt::Display for Algorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How rows are split into training and test rows.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SplitSpec {
    /// The share of rows held out for evaluation, in (0, 1).
    #[serde(default = "default_test_size")]
    pub test_size: f64,
    /// Classification: keep class shares equal in both parts (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stratify: Option<bool>,
    /// A time split: the newest `test_size` of rows by this column are the test rows
    /// (exclusive with `stratify`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_column: Option<String>,
}

fn default_test_size() -> f64 {
    0.2
}

impl Default for SplitSpec {
    fn default() -> Self {
        SplitSpec {
            test_size: default_test_size(),
            stratify: None,
            time_column: None,
        }
    }
}

/// `[model.NAME.columns.COLUMN]`: what a column is and what to do with it before fitting.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ColumnRule {
    /// The declared type: `int`, `float`, `bool` or `string` (a category). A column whose
    /// values do not have this type is an error. Default: the table's type.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub dtype: Option<ColumnType>,
    /// What replaces a missing value (null or NaN). Without it, a missing value is an error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impute: Option<Impute>,
    /// With `impute = "constant"`: the value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fill: Option<toml::Value>,
    /// How a string column becomes numbers (required for string columns).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encode: Option<Encode>,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Impute {
    /// The training rows' mean (numbers only).
    Mean,
    /// The training rows' median (numbers only).
    Median,
    /// The most frequent training value (ties: the smallest).
    MostFrequent,
    /// The value given as `fill`.
    Constant,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Encode {
    /// One 0/1 input per category seen in training (sorted); an unseen category is all zeros.
    OneHot,
    /// One input: the category's index in the sorted training categories; unseen = -1.
    Ordinal,
}

/// The time column of an entity table when a spec does not name one.
pub const DEFAULT_ENTITY_TIMESTAMP: &str = "event_timestamp";

impl ModelSpec {
    /// With `entities`: the entity table's time column (`timestamp`, or
    /// [`DEFAULT_ENTITY_TIMESTAMP`]).
    pub fn entity_timestamp(&self) -> &str {
        self.timestamp
            .as_deref()
            .unwrap_or(DEFAULT_ENTITY_TIMESTAMP)
    }
}

/// Checks what serde cannot. Errors name the key.
pub fn check(
    models: &BTreeMap<String, ModelSpec>,
    services: &BTreeMap<String, crate::features::FeatureServiceSpec>,
) -> Result<(), String> {
    for (name, spec) in models {
        let spec = Named { name, spec };
        check_name(&spec)?;
        check_source(&spec)?;
        check_entity_inputs(&spec, services)?;
        check_target(&spec)?;
        check_features(&spec)?;
        check_split(&spec)?;
        for (column, rule) in &spec.spec.columns {
            check_column(&spec, column, rule)?;
        }
        if let Some(g) = &spec.spec.gates {
            gates::check(name, spec.spec.algorithm, g)?;
        }
    }
    Ok(())
}

/// A spec with its name, for messages that name the key.
struct Named<'a> {
    name: &'a str,
    spec: &'a ModelSpec,
}

impl Named<'_> {
    /// `` `model.NAME.KEY` ``
    fn at(&self, key: &str) -> String {
        format!("`model.{}.{key}`", self.name)
    }

    /// `` `model.NAME`: MESSAGE ``
    fn whole(&self, message: &str) -> String {
        format!("`model.{}`: {message}", self.name)
    }
}

fn check_name(spec: &Named<'_>) -> Result<(), String> {
    if valid_name(spec.name) {
        Ok(())
    } else {
        Err(spec.whole("names use letters, digits, `-` and `_`"))
    }
}

/// What the model trains on: `data` or `entities` (a project path), not both; `timestamp` and
/// `service` only with `entities`.
fn check_source(spec: &Named<'_>) -> Result<(), String> {
    let s = spec.spec;
    match (&s.data, &s.entities) {
        (Some(_), Some(_)) => {
            return Err(spec
                .whole("give `data` (a table) or `entities` (joined to feature views), not both"));
        }
        (None, None) => {
            return Err(spec.whole(
                "say what to train on: `data = \"path/to/table.csv\"`, or `entities` with `features`/`service`",
            ));
        }
        (Some(path), None) | (None, Some(path)) => {
            if let Err(e) = cairn_store::RelPath::new(path) {
                let key = if s.data.is_some() { "data" } else { "entities" };
                return Err(format!("{}: {e}", spec.at(key)));
            }
        }
    }
    if s.data.is_some() && s.timestamp.is_some() {
        return Err(format!(
            "{}: the time column of an entity table goes with `entities`, not `data`",
            spec.at("timestamp")
        ));
    }
    if s.data.is_some() && s.service.is_some() {
        return Err(format!(
            "{}: a feature service needs `entities`, not `data`",
            spec.at("service")
        ));
    }
    Ok(())
}

/// With `entities`: a declared `service`, or `features` as `view:feature` references.
fn check_entity_inputs(
    spec: &Named<'_>,
    services: &BTreeMap<String, crate::features::FeatureServiceSpec>,
) -> Result<(), String> {
    let s = spec.spec;
    if let Some(service) = &s.service {
        if !services.contains_key(service) {
            return Err(format!(
                "{}: no feature service `{service}` is declared",
                spec.at("service")
            ));
        }
        if s.features.is_some() {
            return Err(spec.whole("give `features` or `service`, not both"));
        }
    }
    if s.entities.is_none() {
        return Ok(());
    }
    match &s.features {
        None if s.service.is_none() => {
            Err(spec
                .whole("with `entities`, list `features` as `view:feature` or name a `service`"))
        }
        Some(features) => match features
            .iter()
            .find(|f| crate::features::FeatureRef::parse(f).is_none())
        {
            Some(bad) => Err(format!(
                "{}: `{bad}` is not a `view:feature` reference",
                spec.at("features")
            )),
            None => Ok(()),
        },
        None => Ok(()),
    }
}

fn check_target(spec: &Named<'_>) -> Result<(), String> {
    if spec.spec.target.trim().is_empty() {
        return Err(format!("{} is empty", spec.at("target")));
    }
    Ok(())
}

/// `features`: not empty, no name twice, not the target; `exclude` only without it.
fn check_features(spec: &Named<'_>) -> Result<(), String> {
    let s = spec.spec;
    let Some(features) = &s.features else {
        return Ok(());
    };
    if features.is_empty() {
        return Err(format!("{} is empty", spec.at("features")));
    }
    let mut seen = std::collections::BTreeSet::new();
    for f in features {
        if !seen.insert(f) {
            return Err(format!("{}: `{f}` is listed twice", spec.at("features")));
        }
        if *f == s.target {
            return Err(format!(
                "{}: `{f}` is the target; a model cannot take its target as an input",
                spec.at("features")
            ));
        }
    }
    if !s.exclude.is_empty() {
        return Err(spec.whole("`exclude` only applies when `features` is not given"));
    }
    Ok(())
}

/// `split`: a test share in (0, 1); stratified only for classifiers and not by time.
fn check_split(spec: &Named<'_>) -> Result<(), String> {
    let split = &spec.spec.split;
    if !(split.test_size > 0.0 && split.test_size < 1.0) {
        return Err(format!(
            "{}: {} is not between 0 and 1 (exclusive); 0.2 holds out a fifth of the rows",
            spec.at("split.test_size"),
            split.test_size
        ));
    }
    if split.time_column.is_some() && split.stratify == Some(true) {
        return Err(format!(
            "`model.{}.split`: a time split cannot also be stratified",
            spec.name
        ));
    }
    if split.stratify == Some(true) && !spec.spec.algorithm.is_classifier() {
        return Err(format!(
            "{}: only classification splits can be stratified ({} is a regressor)",
            spec.at("split.stratify"),
            spec.spec.algorithm
        ));
    }
    Ok(())
}

/// `columns.COLUMN`: a type a model input can have, `fill` exactly with `impute =
/// "constant"`, encoding only for strings, nothing for the target.
fn check_column(spec: &Named<'_>, column: &str, rule: &ColumnRule) -> Result<(), String> {
    let key = |k: &str| spec.at(&format!("columns.{column}.{k}"));
    if let Some(t) = rule.dtype
        && !matches!(
            t,
            ColumnType::Int | ColumnType::Float | ColumnType::Bool | ColumnType::String
        )
    {
        return Err(format!(
            "{}: a model input is \"int\", \"float\", \"bool\" or \"string\", not \"{}\"",
            key("type"),
            t.as_str()
        ));
    }
    check_fill(rule, &key)?;
    if rule.encode.is_some() && rule.dtype.is_some_and(|t| t != ColumnType::String) {
        return Err(format!(
            "{}: only string columns are encoded",
            key("encode")
        ));
    }
    if column == spec.spec.target
        && (rule.encode.is_some() || rule.impute.is_some() || rule.dtype.is_some())
    {
        return Err(format!(
            "{}: the target is not an input: it takes no type, imputation or encoding (its labels or values come from the data as they are)",
            spec.at(&format!("columns.{column}"))
        ));
    }
    Ok(())
}

/// `fill` goes with `impute = "constant"`, which needs it, and is a scalar.
fn check_fill(rule: &ColumnRule, key: &dyn Fn(&str) -> String) -> Result<(), String> {
    match (rule.impute, &rule.fill) {
        (Some(Impute::Constant), None) => {
            return Err(format!(
                "{}: `impute = \"constant\"` needs the value: `fill = ...`",
                key("fill")
            ));
        }
        (Some(i), Some(_)) if i != Impute::Constant => {
            return Err(format!(
                "{}: `fill` goes with `impute = \"constant\"`",
                key("fill")
            ));
        }
        (None, Some(_)) => {
            return Err(format!(
                "{}: `fill` goes with `impute = \"constant\"`",
                key("fill")
            ));
        }
        _ => {}
    }
    if let Some(fill) = &rule.fill
        && !matches!(
            fill,
            toml::Value::String(_)
                | toml::Value::Integer(_)
                | toml::Value::Float(_)
                | toml::Value::Boolean(_)
        )
    {
        return Err(format!(
            "{}: a fill value is a string, a number or a boolean",
            key("fill")
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<(), String> {
        let models: BTreeMap<String, ModelSpec> =
            toml::from_str(text).map_err(|e| e.to_string())?;
        check(&models, &BTreeMap::new())
    }

    #[test]
    fn a_minimal_spec_is_accepted() {
        parse("[m]\ndata = \"t.csv\"\ntarget = \"y\"\nalgorithm = \"gaussian_nb\"\n").unwrap();
    }

    #[test]
    fn errors_name_the_key() {
        let e = parse("[m]\ndata = \"t.csv\"\ntarget = \"y\"\nalgorithm = \"svm\"\n").unwrap_err();
        assert!(
            e.contains("svm") && e.contains("random_forest_classifier"),
            "{e}"
        );
        let e = parse(
            "[m]\ndata = \"t.csv\"\ntarget = \"y\"\nalgorithm = \"gaussian_nb\"\nsplit = { test_size = 1.5 }\n",
        )
        .unwrap_err();
        assert!(e.contains("`model.m.split.test_size`"), "{e}");
        let e = parse(
            "[m]\ndata = \"t.csv\"\ntarget = \"y\"\nalgorithm = \"linear_regression\"\nsplit = { stratify = true }\n",
        )
        .unwrap_err();
        assert!(e.contains("split.stratify"), "{e}");
        let e = parse(
            "[m]\ndata = \"t.csv\"\ntarget = \"y\"\nalgorithm = \"gaussian_nb\"\nfeatures = [\"a\", \"y\"]\n",
        )
        .unwrap_err();
        assert!(
            e.contains("`model.m.features`") && e.contains("target"),
            "{e}"
        );
        let e = parse(
            "[m]\ndata = \"t.csv\"\ntarget = \"y\"\nalgorithm = \"gaussian_nb\"\n[m.columns.a]\nimpute = \"constant\"\n",
        )
        .unwrap_err();
        assert!(e.contains("`model.m.columns.a.fill`"), "{e}");
        let e = parse("[m]\ntarget = \"y\"\nalgorithm = \"gaussian_nb\"\n").unwrap_err();
        assert!(e.contains("`model.m`") && e.contains("data"), "{e}");
    }

    #[test]
    fn entity_specs_are_checked_and_their_time_column_defaults() {
        let e = parse(
            "[m]\ndata = \"t.csv\"\nentities = \"e.csv\"\ntarget = \"y\"\nalgorithm = \"gaussian_nb\"\n",
        )
        .unwrap_err();
        assert!(e.contains("not both"), "{e}");
        let e = parse(
            "[m]\ndata = \"t.csv\"\ntimestamp = \"ts\"\ntarget = \"y\"\nalgorithm = \"gaussian_nb\"\n",
        )
        .unwrap_err();
        assert!(e.contains("`model.m.timestamp`"), "{e}");
        let e = parse("[m]\nentities = \"e.csv\"\ntarget = \"y\"\nalgorithm = \"gaussian_nb\"\n")
            .unwrap_err();
        assert!(e.contains("`view:feature`"), "{e}");
        let e = parse(
            "[m]\nentities = \"e.csv\"\nfeatures = [\"plain\"]\ntarget = \"y\"\nalgorithm = \"gaussian_nb\"\n",
        )
        .unwrap_err();
        assert!(e.contains("`model.m.features`: `plain`"), "{e}");
        let text = "[m]\nentities = \"e.csv\"\nfeatures = [\"v:x\"]\ntarget = \"y\"\nalgorithm = \"gaussian_nb\"\n";
        parse(text).unwrap();
        let models: BTreeMap<String, ModelSpec> = toml::from_str(text).unwrap();
        assert_eq!(models["m"].entity_timestamp(), DEFAULT_ENTITY_TIMESTAMP);
        let mut named = models["m"].clone();
        named.timestamp = Some("at".into());
        assert_eq!(named.entity_timestamp(), "at");
    }

    #[test]
    fn gates_are_read_with_the_spec_and_checked_against_its_algorithm() {
        let base = "[m]\ndata = \"t.csv\"\ntarget = \"y\"\nalgorithm = \"ridge_regression\"\n";
        let models: BTreeMap<String, ModelSpec> = toml::from_str(base).unwrap();
        assert_eq!(models["m"].gates, None);
        let text = format!("{base}[m.gates]\nr2 = {{ min = 0.5 }}\ndeterminism = true\n");
        parse(&text).unwrap();
        let models: BTreeMap<String, ModelSpec> = toml::from_str(&text).unwrap();
        let gates = models["m"].gates.as_ref().unwrap();
        assert!(gates.determinism && gates.metrics[&Metric::R2].min == Some(0.5));
        let e = parse(&format!("{base}[m.gates]\nrecall = {{ min = 0.5 }}\n")).unwrap_err();
        assert!(
            e.starts_with("`model.m.gates.recall`: recall measures a classifier"),
            "{e}"
        );
        let e = parse(&format!("{base}[m.gates]\nspeed = {{ min = 0.5 }}\n")).unwrap_err();
        assert!(
            e.contains("`gates.speed` is neither a gate nor a metric"),
            "{e}"
        );
    }

    #[test]
    fn column_rules_are_checked() {
        let spec = |rule: &str| {
            parse(&format!(
                "[m]\ndata = \"t.csv\"\ntarget = \"y\"\nalgorithm = \"gaussian_nb\"\n[m.columns.a]\n{rule}\n"
            ))
        };
        spec("impute = \"constant\"\nfill = 0").unwrap();
        let e = spec("impute = \"mean\"\nfill = 0").unwrap_err();
        assert!(e.contains("`model.m.columns.a.fill`"), "{e}");
        let e = spec("impute = \"constant\"\nfill = [1]").unwrap_err();
        assert!(e.contains("a string, a number or a boolean"), "{e}");
        let e = spec("type = \"int\"\nencode = \"one_hot\"").unwrap_err();
        assert!(e.contains("`model.m.columns.a.encode`"), "{e}");
        let e = parse(
            "[m]\ndata = \"t.csv\"\ntarget = \"y\"\nalgorithm = \"gaussian_nb\"\n[m.columns.y]\nencode = \"ordinal\"\n",
        )
        .unwrap_err();
        assert!(e.contains("the target is not an input"), "{e}");
    }
}
