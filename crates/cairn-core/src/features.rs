//! Feature definitions in `cairn.toml`: `[entity.NAME]`, `[feature_view.NAME]`,
//! `[feature_service.NAME]` (docs/guide/features.md, docs/formats/config.md).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::dataset::{ColumnType, parse_age};
use crate::names::valid_name;

/// Something features describe (a customer, a merchant…), identified by its join keys.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EntitySpec {
    /// Join key columns and their types (`int` or `string`), in name order.
    pub join_keys: BTreeMap<String, ColumnType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A feature view: features computed from one source table, keyed by entities, stamped with
/// an event time.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FeatureViewSpec {
    /// A tracked table: a CSV or Parquet file, or a directory of them.
    pub source: String,
    /// The entities whose join keys identify a row.
    pub entities: Vec<String>,
    /// The event time column (date or datetime; naive values are UTC).
    pub timestamp: String,
    /// A column that breaks ties between rows with the same event time: the largest wins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// How long a value stays valid after its event time (`"30d"`); none: forever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<String>,
    /// A SQL query over the table `source` (polars SQL); its result must hold the join keys,
    /// the timestamp (and created) columns and the features.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sql: Option<String>,
    /// The features and their types.
    pub features: BTreeMap<String, ColumnType>,
}

impl FeatureViewSpec {
    /// The ttl as a duration (checked when `cairn.toml` is read).
    pub fn ttl(&self) -> Option<Duration> {
        self.ttl.as_deref().and_then(parse_age)
    }
}

/// A named list of `view:feature` references, for training and serving.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FeatureServiceSpec {
    pub features: Vec<String>,
}

/// A parsed `view:feature` reference.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct FeatureRef {
    pub view: String,
    pub feature: String,
}

impl FeatureRef {
    pub fn parse(text: &str) -> Option<FeatureRef> {
        let (view, feature) = text.split_once(':')?;
        let (view, feature) = (view.trim(), feature.trim());
        (!view.is_empty() && !feature.is_empty() && !feature.contains(':')).then(|| FeatureRef {
            view: view.to_owned(),
            feature: feature.to_owned(),
        })
    }
}

impl std::fmt::Display for FeatureRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.view, self.feature)
    }
}

/// Checks what serde cannot: names, references between the tables, ttl syntax. Errors name
/// the key.
pub fn check(
    entities: &BTreeMap<String, EntitySpec>,
    views: &BTreeMap<String, FeatureViewSpec>,
    services: &BTreeMap<String, FeatureServiceSpec>,
) -> Result<(), String> {
    for (name, entity) in entities {
        if !valid_name(name) {
            return Err(format!(
                "`entity.{name}`: names use letters, digits, `-` and `_`"
            ));
        }
        if entity.join_keys.is_empty() {
            return Err(format!("`entity.{name}.join_keys` is empty"));
        }
        for (key, dtype) in &entity.join_keys {
            if !matches!(dtype, ColumnType::Int | ColumnType::String) {
                return Err(format!(
                    "`entity.{name}.join_keys.{key}`: a join key is \"int\" or \"string\", not \"{}\"",
                    dtype.as_str()
                ));
            }
        }
    }
    for (name, view) in views {
        let at = |key: &str| format!("`feature_view.{name}.{key}`");
        if !valid_name(name) {
            return Err(format!(
                "`feature_view.{name}`: names use letters, digits, `-` and `_`"
            ));
        }
        if let Err(e) = cairn_store::RelPath::new(&view.source) {
            return Err(format!("{}: {e}", at("source")));
        }
        if view.entities.is_empty() {
            return Err(format!("{} is empty", at("entities")));
        }
        for entity in &view.entities {
            if !entities.contains_key(entity) {
                return Err(format!(
                    "{}: no entity `{entity}` is declared (declared: {})",
                    at("entities"),
                    names(entities.keys())
                ));
            }
        }
        if view.features.is_empty() {
            return Err(format!("{} is empty", at("features")));
        }
        if let Some(ttl) = &view.ttl
            && parse_age(ttl).is_none_or(|d| d.is_zero())
        {
            return Err(format!(
                "{}: `{ttl}` is not a duration; write a number and a unit: s, m, h, d or w (\"30d\")",
                at("ttl")
            ));
        }
        let keys: Vec<&String> = view
            .entities
            .iter()
            .flat_map(|e| entities[e].join_keys.keys())
            .collect();
        for feature in view.features.keys() {
            if feature == "event_timestamp" || feature == "created_timestamp" {
                return Err(format!(
                    "{}: `{feature}` is the name cairn gives the view's time column; rename the feature",
                    at("features")
                ));
            }
            if keys.contains(&feature)
                || *feature == view.timestamp
                || view.created.as_ref() == Some(feature)
            {
                return Err(format!(
                    "{}: `{feature}` is a join key or a time column, not a feature",
                    at("features")
                ));
            }
        }
    }
    for (name, service) in services {
        let at = format!("`feature_service.{name}.features`");
        if !valid_name(name) {
            return Err(format!(
                "`feature_service.{name}`: names use letters, digits, `-` and `_`"
            ));
        }
        if service.features.is_empty() {
            return Err(format!("{at} is empty"));
        }
        // Two views may share a feature name (`a:amount`, `b:amount`): their columns are apart
        // when named `view__feature`, and a request that names them unqualified is refused
        // where those names are made, by the feature store.
        let mut seen = std::collections::BTreeSet::new();
        for text in &service.features {
            let r = FeatureRef::parse(text)
                .ok_or_else(|| format!("{at}: `{text}` is not `view:feature`"))?;
            let view = views.get(&r.view).ok_or_else(|| {
                format!(
                    "{at}: `{text}`: no feature view `{}` (declared: {})",
                    r.view,
                    names(views.keys())
                )
            })?;
            if !view.features.contains_key(&r.feature) {
                return Err(format!(
                    "{at}: `{text}`: view `{}` has no feature `{}` (it has: {})",
                    r.view,
                    r.feature,
                    names(view.features.keys())
                ));
            }
            if !seen.insert(r) {
                return Err(format!("{at}: `{text}` is listed twice"));
            }
        }
    }
    Ok(())
}

fn names<'a>(keys: impl Iterator<Item = &'a String>) -> String {
    let v: Vec<&str> = keys.map(String::as_str).collect();
    if v.is_empty() {
        "none".to_owned()
    } else {
        v.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references() {
        assert_eq!(
            FeatureRef::parse("stats:amount"),
            Some(FeatureRef {
                view: "stats".into(),
                feature: "amount".into()
            })
        );
        for bad in ["stats", ":a", "a:", "a:b:c"] {
            assert_eq!(FeatureRef::parse(bad), None, "{bad}");
        }
    }

    fn declarations(services: &[&[&str]]) -> Result<(), String> {
        let view = |feature: &str| FeatureViewSpec {
            source: "data/t.csv".into(),
            entities: vec!["customer".into()],
            timestamp: "ts".into(),
            created: None,
            ttl: None,
            sql: None,
            features: BTreeMap::from([(feature.to_owned(), ColumnType::Float)]),
        };
        let entities = BTreeMap::from([(
            "customer".to_owned(),
            EntitySpec {
                join_keys: BTreeMap::from([("customer_id".to_owned(), ColumnType::Int)]),
                description: None,
            },
        )]);
        let views = BTreeMap::from([
            ("a".to_owned(), view("amount")),
            ("b".to_owned(), view("amount")),
        ]);
        let services = services
            .iter()
            .enumerate()
            .map(|(i, features)| {
                (
                    format!("s{i}"),
                    FeatureServiceSpec {
                        features: features.iter().map(|f| (*f).to_owned()).collect(),
                    },
                )
            })
            .collect();
        check(&entities, &views, &services)
    }

    #[test]
    fn a_service_may_take_one_feature_name_from_two_views() {
        assert_eq!(declarations(&[&["a:amount", "b:amount"]]), Ok(()));
        let twice = declarations(&[&["a:amount", "b:amount", " a : amount"]]).unwrap_err();
        assert!(twice.contains("` a : amount` is listed twice"), "{twice}");
        let unknown = declarations(&[&["c:amount"]]).unwrap_err();
        assert!(unknown.contains("no feature view `c`"), "{unknown}");
        let missing = declarations(&[&["a:n"]]).unwrap_err();
        assert!(missing.contains("view `a` has no feature `n`"), "{missing}");
        let empty = declarations(&[&[]]).unwrap_err();
        assert!(empty.contains("is empty"), "{empty}");
    }
}
