//! `[drift.NAME]`: how `cairn drift` compares a reference and a current table
//! (docs/formats/config.md, docs/guide/drift.md). `NAME` is a registered model's name (read
//! for a check of that model) or any name a check is pointed at. The syntax:
//!
//! ```toml
//! [drift.churn]
//! drift_share = 0.5                  # dataset drift when at least this share of columns drift
//! ignore = ["id"]                    # columns not compared
//!
//! [drift.churn.columns.amount]
//! method = "psi"                     # ks, wasserstein, psi, jensenshannon, kl_div,
//! threshold = 0.2                    # chisquare, chi2_contingency, z
//!
//! [drift.churn.columns.zip]
//! type = "categorical"               # compare a numeric column as categories
//! ```
//!
//! Without a method, a column gets the automatic choice (Evidently's rules); a threshold is
//! read against a method, so it needs one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cairn_store::Digest;
use serde::{Deserialize, Serialize};

/// The share of drifted columns at which the dataset drifts, by default.
pub const DEFAULT_DRIFT_SHARE: f64 = 0.5;

/// A statistic that decides whether one column drifted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Two-sample Kolmogorov–Smirnov p-value (numeric columns).
    Ks,
    /// Wasserstein-1 distance divided by the reference's standard deviation (numeric).
    Wasserstein,
    /// Population stability index over reference-decile bins or categories.
    Psi,
    /// Jensen–Shannon distance (natural logarithm) over bins or categories.
    Jensenshannon,
    /// Kullback–Leibler divergence of the reference from the current distribution.
    KlDiv,
    /// Chi-square goodness of fit of the current counts to the reference proportions.
    Chisquare,
    /// Chi-square test of the reference × current contingency table.
    Chi2Contingency,
    /// Two-proportion Z-test (the first category against the rest).
    Z,
}

impl Method {
    pub const ALL: [Method; 8] = [
        Method::Ks,
        Method::Wasserstein,
        Method::Psi,
        Method::Jensenshannon,
        Method::KlDiv,
        Method::Chisquare,
        Method::Chi2Contingency,
        Method::Z,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Ks => "ks",
            Method::Wasserstein => "wasserstein",
            Method::Psi => "psi",
            Method::Jensenshannon => "jensenshannon",
            Method::KlDiv => "kl_div",
            Method::Chisquare => "chisquare",
            Method::Chi2Contingency => "chi2_contingency",
            Method::Z => "z",
        }
    }

    /// The method's score is a p-value (drift when below the threshold); otherwise it is a
    /// distance (drift when at or above the threshold).
    pub fn is_p_value(self) -> bool {
        matches!(
            self,
            Method::Ks | Method::Chisquare | Method::Chi2Contingency | Method::Z
        )
    }

    /// The threshold when none is given: 0.05 for the p-values, 0.1 for the distances
    /// (Evidently's defaults).
    pub fn default_threshold(self) -> f64 {
        if self.is_p_value() { 0.05 } else { 0.1 }
    }

    /// Whether the method compares categories (every method but `ks` and `wasserstein`, which
    /// need numbers).
    pub fn takes_categories(self) -> bool {
        !matches!(self, Method::Ks | Method::Wasserstein)
    }

    /// Whether `threshold` is one the method's score can be compared with: a p-value in
    /// (0, 1], a distance finite and at least 0.
    pub fn admits(self, threshold: f64) -> bool {
        if self.is_p_value() {
            threshold > 0.0 && threshold <= 1.0
        } else {
            threshold.is_finite() && threshold >= 0.0
        }
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a column's values are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnType {
    /// Numbers: ordered values, sorted samples.
    Numeric,
    /// Categories: values counted, not ordered.
    Categorical,
}

impl ColumnType {
    pub fn as_str(self) -> &'static str {
        match self {
            ColumnType::Numeric => "numeric",
            ColumnType::Categorical => "categorical",
        }
    }
}

/// `[drift.NAME.columns.COLUMN]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnDrift {
    /// Compare as this type instead of the one the data's type gives.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<ColumnType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<Method>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
}

/// `[drift.NAME]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DriftSpec {
    /// The dataset drifts when at least this share of the compared columns drift.
    #[serde(default = "default_share")]
    pub drift_share: f64,
    /// Columns not compared.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore: Vec<String>,
    /// Per column: type, method, threshold.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub columns: BTreeMap<String, ColumnDrift>,
}

impl Default for DriftSpec {
    fn default() -> Self {
        DriftSpec {
            drift_share: DEFAULT_DRIFT_SHARE,
            ignore: Vec::new(),
            columns: BTreeMap::new(),
        }
    }
}

fn default_share() -> f64 {
    DEFAULT_DRIFT_SHARE
}

/// Checks every `[drift.NAME]` table: the name, `drift_share` in (0, 1], a threshold only
/// with a method and within its range, no method a column's declared type cannot take, no
/// column both ignored and configured.
pub fn check(specs: &BTreeMap<String, DriftSpec>) -> Result<(), String> {
    for (name, spec) in specs {
        if !crate::names::valid_name(name) {
            return Err(format!(
                "`drift.{name}`: a name uses letters, digits, `-` and `_` only"
            ));
        }
        if !(spec.drift_share > 0.0 && spec.drift_share <= 1.0) {
            return Err(format!(
                "`drift.{name}.drift_share`: {} is not a share of columns: give a number above 0 and at most 1",
                spec.drift_share
            ));
        }
        for column in &spec.ignore {
            if spec.columns.contains_key(column) {
                return Err(format!(
                    "`drift.{name}.columns.{column}`: the column is also in `drift.{name}.ignore`"
                ));
            }
        }
        for (column, rule) in &spec.columns {
            let at = |key: &str| format!("`drift.{name}.columns.{column}.{key}`");
            if let (Some(ColumnType::Categorical), Some(method)) = (rule.kind, rule.method)
                && !method.takes_categories()
            {
                return Err(format!(
                    "{}: {method} compares numbers, and the column is compared as categories (`type = \"categorical\"`)",
                    at("method")
                ));
            }
            match (rule.method, rule.threshold) {
                (None, Some(_)) => {
                    return Err(format!(
                        "{}: a threshold is read against a method: give `method` too",
                        at("threshold")
                    ));
                }
                (Some(method), Some(threshold)) if !method.admits(threshold) => {
                    let range = if method.is_p_value() {
                        "a p-value threshold is above 0 and at most 1"
                    } else {
                        "a distance threshold is a finite number of at least 0"
                    };
                    return Err(format!(
                        "{}: {threshold} is out of range: {range}",
                        at("threshold")
                    ));
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// The refs of drift checks, under the project's state directory (docs/formats/drift.md):
/// small files, each holding the digest of a drift record in the store.
pub const REFS_DIR: &str = "drift";

/// The ref of the last check of any kind: `.cairn/drift/last`.
pub fn last_ref(state_dir: &Path) -> PathBuf {
    state_dir.join(REFS_DIR).join("last")
}

/// The ref of the last check of model `name`: `.cairn/drift/model/NAME`.
pub fn model_ref(state_dir: &Path, name: &str) -> PathBuf {
    state_dir.join(REFS_DIR).join("model").join(name)
}

/// A drift ref that cannot be read, or does not hold a digest.
#[derive(Debug, thiserror::Error)]
pub enum DriftRefError {
    #[error("cannot read {}: {source}", .path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: not a drift record's digest ({message})", .path.display())]
    BadRef { path: PathBuf, message: String },
}

/// The record digest a ref names; `None` when the ref does not exist.
pub fn read_ref(path: &Path) -> Result<Option<Digest>, DriftRefError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(DriftRefError::Io {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    text.trim()
        .parse::<Digest>()
        .map(Some)
        .map_err(|e| DriftRefError::BadRef {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
}

/// Every drift record the refs name (`last` and each model's), for `data gc` to keep.
/// Files that are not refs (temporary files of an interrupted write) are skipped.
pub fn read_refs(state_dir: &Path) -> Result<Vec<Digest>, DriftRefError> {
    let mut out: Vec<Digest> = read_ref(&last_ref(state_dir))?.into_iter().collect();
    let models = state_dir.join(REFS_DIR).join("model");
    let entries = match std::fs::read_dir(&models) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(source) => {
            return Err(DriftRefError::Io {
                path: models,
                source,
            });
        }
    };
    for entry in entries {
        let entry = entry.map_err(|source| DriftRefError::Io {
            path: models.clone(),
            source,
        })?;
        let valid = entry
            .file_name()
            .to_str()
            .is_some_and(crate::names::valid_name);
        if valid && let Some(digest) = read_ref(&entry.path())? {
            out.push(digest);
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<BTreeMap<String, DriftSpec>, String> {
        #[derive(Deserialize)]
        struct Doc {
            drift: BTreeMap<String, DriftSpec>,
        }
        let doc: Doc = toml::from_str(text).map_err(|e| e.to_string())?;
        check(&doc.drift)?;
        Ok(doc.drift)
    }

    #[test]
    fn a_full_table_reads() {
        let specs = parse(
            "[drift.churn]\ndrift_share = 0.3\nignore = [\"id\"]\n\
             [drift.churn.columns.amount]\nmethod = \"psi\"\nthreshold = 0.2\n\
             [drift.churn.columns.zip]\ntype = \"categorical\"\nmethod = \"chi2_contingency\"\n",
        )
        .unwrap();
        let spec = &specs["churn"];
        assert_eq!(spec.drift_share, 0.3);
        assert_eq!(spec.ignore, ["id"]);
        assert_eq!(spec.columns["amount"].method, Some(Method::Psi));
        assert_eq!(spec.columns["amount"].threshold, Some(0.2));
        assert_eq!(spec.columns["zip"].kind, Some(ColumnType::Categorical));
        assert_eq!(parse("[drift.m]\n").unwrap()["m"], DriftSpec::default());
        for m in Method::ALL {
            let text = format!("[drift.m.columns.c]\nmethod = \"{m}\"\n");
            assert_eq!(parse(&text).unwrap()["m"].columns["c"].method, Some(m));
        }
    }

    #[test]
    #[allow(clippy::disallowed_methods)]
    fn refs_are_read_and_a_bad_one_is_named() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read_refs(dir.path()).unwrap().is_empty());
        let a = Digest::of(b"a");
        let b = Digest::of(b"b");
        std::fs::create_dir_all(dir.path().join("drift/model")).unwrap();
        std::fs::write(last_ref(dir.path()), format!("{}\n", a.to_hex())).unwrap();
        std::fs::write(model_ref(dir.path(), "churn"), format!("{}\n", b.to_hex())).unwrap();
        std::fs::write(model_ref(dir.path(), "fraud"), format!("{}\n", a.to_hex())).unwrap();
        std::fs::write(dir.path().join("drift/model/123-4.tmp"), "x").unwrap();
        let mut expected = vec![a, b];
        expected.sort();
        assert_eq!(read_refs(dir.path()).unwrap(), expected);
        std::fs::write(model_ref(dir.path(), "churn"), "nope\n").unwrap();
        let err = read_refs(dir.path()).unwrap_err();
        assert!(
            err.to_string()
                .contains("drift/model/churn: not a drift record's digest"),
            "{err}"
        );
    }

    #[test]
    fn bad_tables_are_refused_with_their_key() {
        for (text, needle) in [
            (
                "[drift.m]\ndrift_share = 0\n",
                "`drift.m.drift_share`: 0 is not a share",
            ),
            ("[drift.m]\ndrift_share = 1.5\n", "drift_share`: 1.5"),
            (
                "[drift.m.columns.a]\nthreshold = 0.1\n",
                "`drift.m.columns.a.threshold`: a threshold is read against a method",
            ),
            (
                "[drift.m.columns.a]\nmethod = \"ks\"\nthreshold = 0\n",
                "0 is out of range: a p-value threshold",
            ),
            (
                "[drift.m.columns.a]\nmethod = \"psi\"\nthreshold = -1\n",
                "-1 is out of range: a distance threshold",
            ),
            (
                "[drift.m.columns.a]\ntype = \"categorical\"\nmethod = \"wasserstein\"\n",
                "wasserstein compares numbers",
            ),
            (
                "[drift.m]\nignore = [\"a\"]\n[drift.m.columns.a]\nmethod = \"z\"\n",
                "also in `drift.m.ignore`",
            ),
            ("[drift.\"a b\"]\n", "`drift.a b`: a name uses"),
            (
                "[drift.m.columns.a]\nmethod = \"t_test\"\n",
                "unknown variant `t_test`",
            ),
            ("[drift.m]\nshare = 0.5\n", "unknown field `share`"),
        ] {
            let err = parse(text).unwrap_err();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }
}
