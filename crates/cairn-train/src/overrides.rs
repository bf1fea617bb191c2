//! Overrides of a spec for one run (`seed=7`, `split.test_size=0.3`, `n_trees=200`).

use std::collections::BTreeMap;

use cairn_core::features::FeatureServiceSpec;
use cairn_core::models::ModelSpec;
use serde_json::Value;

use crate::{OverrideProblem, TrainError};

/// The spec after `overrides`, and the overrides as values (for the record).
pub(crate) fn apply(
    name: &str,
    mut spec: ModelSpec,
    overrides: &[(String, String)],
    services: &BTreeMap<String, FeatureServiceSpec>,
) -> Result<(ModelSpec, BTreeMap<String, Value>), TrainError> {
    let mut applied = BTreeMap::new();
    for (key, raw) in overrides {
        let value = parse_value(raw);
        let bad = |problem: OverrideProblem| TrainError::Override {
            model: name.to_owned(),
            key: key.clone(),
            value: raw.clone(),
            problem,
        };
        match key.as_str() {
            "seed" => {
                spec.seed = value
                    .as_integer()
                    .and_then(|v| u64::try_from(v).ok())
                    .ok_or_else(|| bad(OverrideProblem::Expected("is a whole number ≥ 0")))?;
            }
            "split.test_size" => {
                spec.split.test_size = value
                    .as_float()
                    .or_else(|| value.as_integer().map(|i| i as f64))
                    .ok_or_else(|| bad(OverrideProblem::Expected("is a number between 0 and 1")))?;
            }
            "split.stratify" => {
                spec.split.stratify = Some(
                    value
                        .as_bool()
                        .ok_or_else(|| bad(OverrideProblem::Expected("is true or false")))?,
                );
            }
            "target" | "data" | "algorithm" | "features" | "entities" | "service" | "timestamp"
            | "exclude" | "columns" | "split" | "params" => {
                return Err(bad(OverrideProblem::Fixed));
            }
            other => {
                let param = other.strip_prefix("params.").unwrap_or(other);
                if param.is_empty() || param.contains('.') || other.starts_with("columns.") {
                    return Err(bad(OverrideProblem::Unknown));
                }
                spec.params.insert(param.to_owned(), value.clone());
            }
        }
        applied.insert(
            key.clone(),
            serde_json::to_value(&value).unwrap_or(Value::Null),
        );
    }
    // The checks cairn.toml got, again for the changed spec.
    let one = BTreeMap::from([(name.to_owned(), spec.clone())]);
    cairn_core::models::check(&one, services).map_err(TrainError::OverriddenSpec)?;
    Ok((spec, applied))
}

/// A TOML value (`200`, `0.5`, `true`, `"sqrt"`), or the text as a string when it is not one
/// (`none`, `sqrt`).
fn parse_value(raw: &str) -> toml::Value {
    toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> ModelSpec {
        toml::from_str("data = \"t.csv\"\ntarget = \"y\"\nalgorithm = \"gaussian_nb\"\n").unwrap()
    }

    fn set(pairs: &[(&str, &str)]) -> Result<(ModelSpec, BTreeMap<String, Value>), TrainError> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        apply("m", spec(), &pairs, &BTreeMap::new())
    }

    #[test]
    fn values_are_toml_or_text_and_are_recorded_as_given() {
        let (spec, applied) = set(&[
            ("seed", "7"),
            ("split.test_size", "0.3"),
            ("params.var_smoothing", "1e-6"),
            ("priors", "none"),
        ])
        .unwrap();
        assert_eq!(spec.seed, 7);
        assert_eq!(spec.split.test_size, 0.3);
        assert_eq!(
            spec.params.get("priors"),
            Some(&toml::Value::String("none".into()))
        );
        assert_eq!(applied["seed"], Value::from(7));
        assert_eq!(applied["params.var_smoothing"], Value::from(1e-6));
        assert_eq!(applied["priors"], Value::from("none"));
    }

    #[test]
    fn problems_are_typed_and_name_no_option() {
        let problem = |pairs: &[(&str, &str)]| match set(pairs) {
            Err(TrainError::Override { problem, .. }) => problem,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            problem(&[("seed", "-1")]),
            OverrideProblem::Expected("is a whole number ≥ 0")
        );
        assert_eq!(problem(&[("entities", "x.csv")]), OverrideProblem::Fixed);
        assert_eq!(
            problem(&[("columns.a.encode", "x")]),
            OverrideProblem::Unknown
        );
        let e = set(&[("split.stratify", "maybe")]).unwrap_err().to_string();
        assert_eq!(
            e,
            "override split.stratify=maybe: `model.m.split.stratify` is true or false"
        );
        assert!(!e.contains("--"), "{e}");
        match set(&[("split.test_size", "2")]) {
            Err(TrainError::OverriddenSpec(e)) => {
                assert!(e.contains("`model.m.split.test_size`"), "{e}")
            }
            other => panic!("{other:?}"),
        }
    }
}
