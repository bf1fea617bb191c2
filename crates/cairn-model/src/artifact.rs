//! The model artifact file (docs/formats/model.md): a header in JSON (what the model is, what
//! it takes, where it came from) and the fitted model in postcard. Both are written from
//! ordered data only, so the same fit gives the same bytes and the same digest.

use std::collections::BTreeMap;

use polars::prelude::DataFrame;
use serde::{Deserialize, Serialize};

use crate::Matrix;
use crate::estimator::Fitted;
use crate::metrics::argmax;
use crate::prep::{Input, InputError, encode_row, transform};

/// The first bytes of every artifact.
pub const MAGIC: &[u8; 8] = b"CAIRNMDL";
/// The newest artifact format version this cairn writes and reads. Format 2 adds the boosted
/// models; a model that format 1 can hold is still written as format 1 (same bytes, same
/// digest as before), and format 1 artifacts are read as before.
pub const FORMAT_VERSION: u32 = 2;

/// The oldest format that can hold `fitted`: what the writer writes.
pub fn format_of(fitted: &Fitted) -> u32 {
    if fitted.booster().is_some() { 2 } else { 1 }
}

/// A class label as it appeared in the target column.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Label {
    Bool(bool),
    Int(i64),
    Text(String),
}

impl std::fmt::Display for Label {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Label::Bool(b) => write!(f, "{b}"),
            Label::Int(i) => write!(f, "{i}"),
            Label::Text(s) => f.write_str(s),
        }
    }
}

impl Label {
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Label::Bool(b) => (*b).into(),
            Label::Int(i) => (*i).into(),
            Label::Text(s) => s.as_str().into(),
        }
    }
}

/// What the model predicts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Task {
    /// `labels[i]` is class `i`, sorted.
    Classification {
        labels: Vec<Label>,
    },
    Regression,
}

/// Where the model came from. No clock times: those are the run's.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// Tracked tables read, by project path: their BLAKE3 digests.
    pub data: BTreeMap<String, String>,
    /// Feature tables read, by view: their digests.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub features: BTreeMap<String, String>,
    /// The git commit of the code (`None` outside git or before the first commit).
    pub code_commit: Option<String>,
    /// Whether the worktree had uncommitted changes.
    pub code_dirty: bool,
    pub train_rows: u64,
    pub test_rows: u64,
}

/// Everything about a model except the fitted numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    pub format: u32,
    /// The spec name in `cairn.toml`.
    pub model: String,
    pub algorithm: String,
    /// Every param as used, defaults included.
    pub params: BTreeMap<String, serde_json::Value>,
    pub seed: u64,
    pub target: String,
    pub task: Task,
    /// The inputs in order, with their fitted preprocessing.
    pub inputs: Vec<Input>,
    pub provenance: Provenance,
}

/// A model: header plus fitted model.
#[derive(Debug, Clone)]
pub struct Artifact {
    pub header: Header,
    pub fitted: Fitted,
}

/// Why an artifact cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    #[error("not a cairn model artifact (no CAIRNMDL header)")]
    NotAnArtifact,
    #[error(
        "model artifact format {found}, but this cairn reads formats 1 to {FORMAT_VERSION}: it was written by a newer cairn"
    )]
    Version { found: u32 },
    #[error("the model artifact is damaged: {0}")]
    Corrupt(String),
}

/// A prediction for one row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prediction {
    /// The predicted label (classification) or value (regression).
    pub prediction: serde_json::Value,
    /// Class probabilities in label order (classification).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probabilities: Option<Vec<f64>>,
}

/// Predictions for a batch of rows.
#[derive(Debug, Clone, PartialEq)]
pub enum Predictions {
    /// Class indices (into the labels) and row-major probabilities (rows × classes).
    Classes {
        class: Vec<usize>,
        proba: Vec<f64>,
        n_classes: usize,
    },
    Values(Vec<f64>),
}

impl Artifact {
    /// The artifact's bytes: `CAIRNMDL`, the format version (u32 LE), the header's length
    /// (u32 LE), the header (JSON), the fitted model (postcard). The version, in the bytes and
    /// the header's `format`, is [`format_of`] the model, whatever `header.format` says.
    pub fn to_bytes(&self) -> Vec<u8> {
        let version = format_of(&self.fitted);
        let header = if self.header.format == version {
            serde_json::to_vec(&self.header)
        } else {
            serde_json::to_vec(&Header {
                format: version,
                ..self.header.clone()
            })
        }
        .expect("a header serializes");
        let body = postcard::to_stdvec(&self.fitted).expect("a fitted model serializes");
        let mut out = Vec::with_capacity(16 + header.len() + body.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&version.to_le_bytes());
        out.extend_from_slice(
            &u32::try_from(header.len())
                .expect("header < 4 GiB")
                .to_le_bytes(),
        );
        out.extend_from_slice(&header);
        out.extend_from_slice(&body);
        out
    }

    /// Reads only the header (cheap: the fitted model is not decoded).
    pub fn read_header(bytes: &[u8]) -> Result<Header, ArtifactError> {
        let (version, header, _) = split(bytes)?;
        let header: Header =
            serde_json::from_slice(header).map_err(|e| ArtifactError::Corrupt(e.to_string()))?;
        if header.format != version {
            return Err(ArtifactError::Corrupt(format!(
                "the header says format {}, the file format {version}",
                header.format
            )));
        }
        Ok(header)
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Artifact, ArtifactError> {
        let (version, header, body) = split(bytes)?;
        let header: Header =
            serde_json::from_slice(header).map_err(|e| ArtifactError::Corrupt(e.to_string()))?;
        let fitted: Fitted =
            postcard::from_bytes(body).map_err(|e| ArtifactError::Corrupt(e.to_string()))?;
        let corrupt = |what: String| Err(ArtifactError::Corrupt(what));
        if header.format != version {
            return corrupt(format!(
                "the header says format {}, the file format {version}",
                header.format
            ));
        }
        if format_of(&fitted) > version {
            return corrupt(format!(
                "a format {version} artifact cannot hold a `{}` model",
                header.algorithm
            ));
        }
        let algorithm: Option<cairn_core::models::Algorithm> =
            serde_json::from_value(serde_json::Value::String(header.algorithm.clone())).ok();
        let classifier = matches!(header.task, Task::Classification { .. });
        if !algorithm.is_some_and(|a| fitted.is_from(a) && a.is_classifier() == classifier) {
            return corrupt(format!(
                "the header's algorithm `{}` does not match the fitted model",
                header.algorithm
            ));
        }
        match &header.task {
            Task::Classification { labels } if labels.len() != fitted.n_classes() => {
                return corrupt(format!(
                    "{} labels in the header, {} classes in the fitted model",
                    labels.len(),
                    fitted.n_classes()
                ));
            }
            Task::Regression if fitted.is_classifier() => {
                return corrupt("a regression header over a classifier".into());
            }
            _ => {}
        }
        let width: usize = header.inputs.iter().map(Input::width).sum();
        if width != fitted.n_features() {
            return corrupt(format!(
                "the inputs encode to {width} numbers, the fitted model takes {}",
                fitted.n_features()
            ));
        }
        Ok(Artifact { header, fitted })
    }

    pub fn labels(&self) -> Option<&[Label]> {
        match &self.header.task {
            Task::Classification { labels } => Some(labels),
            Task::Regression => None,
        }
    }

    /// Scores an encoded matrix (inputs already applied).
    pub fn predict_matrix(&self, x: &Matrix) -> Predictions {
        match self.labels() {
            Some(labels) => {
                let n = labels.len();
                let proba = self.fitted.predict_proba_batch(x, n);
                let class = proba.chunks(n.max(1)).map(argmax).collect();
                Predictions::Classes {
                    class,
                    proba,
                    n_classes: n,
                }
            }
            None => Predictions::Values(self.fitted.predict_value_batch(x)),
        }
    }

    /// Scores every row of a frame (batch scoring): the inputs are read by name and encoded
    /// as in training; other columns are ignored.
    pub fn predict_frame(&self, frame: &DataFrame) -> Result<Predictions, InputError> {
        let x = transform(frame, &self.header.inputs)?;
        Ok(self.predict_matrix(&x))
    }

    /// Scores one row given as named values (what the server receives). `scratch` is reused
    /// between calls to avoid allocating.
    pub fn predict_row<'a>(
        &self,
        get: impl Fn(&str) -> Option<&'a serde_json::Value>,
        scratch: &mut Vec<f64>,
    ) -> Result<Prediction, InputError> {
        encode_row(&self.header.inputs, get, scratch)?;
        Ok(match self.labels() {
            Some(labels) => {
                let mut p = vec![0.0; labels.len()];
                self.fitted.predict_proba_into(scratch, &mut p);
                Prediction {
                    prediction: labels[argmax(&p)].to_json(),
                    probabilities: Some(p),
                }
            }
            None => Prediction {
                prediction: serde_json::Value::from(self.fitted.predict_value(scratch)),
                probabilities: None,
            },
        })
    }
}

/// The format version, the header's bytes and the body's.
fn split(bytes: &[u8]) -> Result<(u32, &[u8], &[u8]), ArtifactError> {
    if bytes.len() < 16 || &bytes[..8] != MAGIC {
        return Err(ArtifactError::NotAnArtifact);
    }
    let version = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
    if version == 0 {
        return Err(ArtifactError::Corrupt(
            "format version 0 does not exist".into(),
        ));
    }
    if version > FORMAT_VERSION {
        return Err(ArtifactError::Version { found: version });
    }
    let len = u32::from_le_bytes(bytes[12..16].try_into().expect("4 bytes")) as usize;
    let rest = &bytes[16..];
    if rest.len() < len {
        return Err(ArtifactError::Corrupt(format!(
            "the header says {len} bytes, but {} follow",
            rest.len()
        )));
    }
    let (header, body) = rest.split_at(len);
    Ok((version, header, body))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use cairn_core::models::Algorithm;
    use polars::prelude::df;

    use super::*;
    use crate::estimator::{Target, fit};
    use crate::prep::{Encoding, InputRule, fit_inputs};

    /// Every algorithm: fit, write, read back; the reloaded model predicts exactly what the
    /// fitted one did, through the frame API and the row API alike.
    #[test]
    fn every_algorithm_round_trips_through_bytes_and_predicts_the_same() {
        let n = 120;
        let x1: Vec<f64> = (0..n).map(|i| ((i * 37) % 101) as f64 / 10.0).collect();
        let x2: Vec<f64> = (0..n).map(|i| ((i * 53) % 89) as f64 / 7.0).collect();
        let plan: Vec<&str> = (0..n).map(|i| ["a", "b", "c"][i % 3]).collect();
        let frame = df!("x1" => &x1, "x2" => &x2, "plan" => &plan).unwrap();
        let rules = vec![
            ("x1".to_owned(), InputRule::default()),
            ("x2".to_owned(), InputRule::default()),
            (
                "plan".to_owned(),
                InputRule {
                    encode: Some(Encoding::OneHot),
                    ..InputRule::default()
                },
            ),
        ];
        let rows: Vec<usize> = (0..n).collect();
        let inputs = fit_inputs(&frame, &rules, &rows).unwrap();
        let x = transform(&frame, &inputs).unwrap();
        let classes: Vec<u32> = (0..n)
            .map(|i| u32::from(x1[i] + x2[i] / 2.0 > 8.0) + u32::from(x1[i] > 8.0))
            .collect();
        let values: Vec<f64> = (0..n).map(|i| 2.0 * x1[i] - x2[i] + 0.5).collect();
        for algorithm in Algorithm::ALL {
            let target = if algorithm.is_classifier() {
                Target::Classes {
                    y: &classes,
                    n_classes: 3,
                }
            } else {
                Target::Values(&values)
            };
            let (fitted, params) = fit(algorithm, &BTreeMap::new(), 3, &x, target, &|_, _| {})
                .unwrap_or_else(|e| panic!("{algorithm}: {e}"));
            let task = if algorithm.is_classifier() {
                Task::Classification {
                    labels: vec![Label::Int(0), Label::Int(1), Label::Int(2)],
                }
            } else {
                Task::Regression
            };
            let artifact = Artifact {
                header: Header {
                    format: FORMAT_VERSION,
                    model: "m".into(),
                    algorithm: algorithm.as_str().into(),
                    params,
                    seed: 3,
                    target: "y".into(),
                    task,
                    inputs: inputs.clone(),
                    provenance: Provenance::default(),
                },
                fitted,
            };
            let bytes = artifact.to_bytes();
            let back = Artifact::from_bytes(&bytes).unwrap();
            assert_eq!(
                back.to_bytes(),
                bytes,
                "{algorithm}: bytes change on a round trip"
            );
            let before = artifact.predict_frame(&frame).unwrap();
            let after = back.predict_frame(&frame).unwrap();
            assert_eq!(before, after, "{algorithm}");
            // One row through the server's API equals the batch answer.
            let mut scratch = Vec::new();
            for i in [0, 17, 119] {
                let row =
                    serde_json::json!({ "x1": x1[i], "x2": x2[i], "plan": plan[i], "extra": 1 });
                let one = back.predict_row(|k| row.get(k), &mut scratch).unwrap();
                match &after {
                    Predictions::Classes {
                        class,
                        proba,
                        n_classes,
                    } => {
                        assert_eq!(one.prediction, Label::Int(class[i] as i64).to_json());
                        assert_eq!(
                            one.probabilities.as_deref().unwrap(),
                            &proba[i * n_classes..(i + 1) * n_classes],
                            "{algorithm}"
                        );
                    }
                    Predictions::Values(v) => {
                        assert_eq!(one.prediction, serde_json::Value::from(v[i]), "{algorithm}");
                    }
                }
            }
            // The schema is checked: a missing input, a wrong type.
            let missing = serde_json::json!({ "x1": 1.0, "plan": "a" });
            let e = back
                .predict_row(|k| missing.get(k), &mut scratch)
                .unwrap_err();
            assert_eq!(e.column(), "x2");
            let wrong = serde_json::json!({ "x1": "one", "x2": 1.0, "plan": "a" });
            let e = back
                .predict_row(|k| wrong.get(k), &mut scratch)
                .unwrap_err();
            assert!(e.to_string().contains("expected float"), "{e}");
        }
    }

    #[test]
    fn a_header_that_does_not_match_its_model_is_refused() {
        let x = crate::Matrix::new(vec![vec![0.0, 1.0, 2.0, 3.0], vec![1.0, 0.0, 1.0, 0.0]]);
        let (fitted, params) = fit(
            Algorithm::DecisionTreeClassifier,
            &BTreeMap::new(),
            0,
            &x,
            Target::Classes {
                y: &[0, 0, 1, 1],
                n_classes: 2,
            },
            &|_, _| {},
        )
        .unwrap();
        let number = |name: &str| crate::prep::Input {
            name: name.into(),
            kind: crate::prep::InputKind::Number {
                dtype: crate::prep::NumberType::Float,
                fill: None,
                keep_missing: false,
            },
        };
        let good = Artifact {
            header: Header {
                format: FORMAT_VERSION,
                model: "m".into(),
                algorithm: "decision_tree_classifier".into(),
                params,
                seed: 0,
                target: "y".into(),
                task: Task::Classification {
                    labels: vec![Label::Bool(false), Label::Bool(true)],
                },
                inputs: vec![number("a"), number("b")],
                provenance: Provenance::default(),
            },
            fitted,
        };
        Artifact::from_bytes(&good.to_bytes()).unwrap();
        let mut bad = good.clone();
        bad.header.inputs.pop();
        let e = Artifact::from_bytes(&bad.to_bytes()).unwrap_err();
        assert!(e.to_string().contains("encode to 1 numbers"), "{e}");
        let mut bad = good.clone();
        bad.header.task = Task::Classification {
            labels: vec![Label::Int(1)],
        };
        assert!(Artifact::from_bytes(&bad.to_bytes()).is_err());
        let mut bad = good.clone();
        bad.header.algorithm = "knn_classifier".into();
        assert!(Artifact::from_bytes(&bad.to_bytes()).is_err());
        // The writer writes the model's format whatever the header says; a header that
        // disagrees with the file's version is refused.
        let mut bad = good.clone();
        bad.header.format = 7;
        let bytes = bad.to_bytes();
        assert_eq!(bytes[8..12], 1u32.to_le_bytes());
        assert_eq!(Artifact::from_bytes(&bytes).unwrap().header.format, 1);
        let header = serde_json::to_vec(&bad.header).unwrap();
        let mut forged = MAGIC.to_vec();
        forged.extend_from_slice(&1u32.to_le_bytes());
        forged.extend_from_slice(&(header.len() as u32).to_le_bytes());
        forged.extend_from_slice(&header);
        forged.extend_from_slice(&postcard::to_stdvec(&good.fitted).unwrap());
        assert!(matches!(
            Artifact::from_bytes(&forged),
            Err(ArtifactError::Corrupt(_))
        ));
    }

    /// A boosted model is written as format 2 (every other as format 1), and a number input
    /// kept missing reaches it as NaN through the frame and row APIs alike.
    #[test]
    fn a_boosted_model_is_format_2_and_takes_missing_values() {
        let n = 200;
        let x1: Vec<Option<f64>> = (0..n)
            .map(|i| (i % 5 != 0).then(|| ((i * 37) % 101) as f64))
            .collect();
        // Missing x1 is class 1, otherwise x1 > 50 is.
        let y: Vec<u32> = x1
            .iter()
            .map(|v| u32::from(v.is_none_or(|v| v > 50.0)))
            .collect();
        let frame = df!("x1" => &x1).unwrap();
        let rules = vec![(
            "x1".to_owned(),
            InputRule {
                keep_missing: true,
                ..InputRule::default()
            },
        )];
        let rows: Vec<usize> = (0..n).collect();
        let inputs = fit_inputs(&frame, &rules, &rows).unwrap();
        assert!(matches!(
            inputs[0].kind,
            crate::prep::InputKind::Number {
                keep_missing: true,
                ..
            }
        ));
        let x = transform(&frame, &inputs).unwrap();
        assert!(x.columns[0][0].is_nan());
        let algorithm = Algorithm::GradientBoostingClassifier;
        let params = BTreeMap::from([("min_samples_leaf".to_owned(), 5.into())]);
        let target = Target::Classes {
            y: &y,
            n_classes: 2,
        };
        let (fitted, params) = fit(algorithm, &params, 0, &x, target, &|_, _| {}).unwrap();
        let artifact = Artifact {
            header: Header {
                format: FORMAT_VERSION,
                model: "m".into(),
                algorithm: algorithm.as_str().into(),
                params,
                seed: 0,
                target: "y".into(),
                task: Task::Classification {
                    labels: vec![Label::Int(0), Label::Int(1)],
                },
                inputs,
                provenance: Provenance::default(),
            },
            fitted,
        };
        let bytes = artifact.to_bytes();
        assert_eq!(bytes[8..12], 2u32.to_le_bytes());
        let back = Artifact::from_bytes(&bytes).unwrap();
        assert_eq!(back.header.format, 2);
        let Predictions::Classes { class, .. } = back.predict_frame(&frame).unwrap() else {
            panic!("a classifier");
        };
        assert_eq!(class[0], 1, "a missing x1 is class 1");
        let row = serde_json::json!({ "x1": null });
        let one = back.predict_row(|k| row.get(k), &mut Vec::new()).unwrap();
        assert_eq!(one.prediction, Label::Int(1).to_json());
        // A format 1 file cannot hold a boosted model.
        let mut old = bytes.clone();
        old[8..12].copy_from_slice(&1u32.to_le_bytes());
        assert!(Artifact::from_bytes(&old).is_err());
    }

    #[test]
    fn damaged_or_newer_artifacts_are_refused() {
        assert!(matches!(
            Artifact::from_bytes(b"not a model at all"),
            Err(ArtifactError::NotAnArtifact)
        ));
        let mut newer = MAGIC.to_vec();
        newer.extend_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
        newer.extend_from_slice(&0u32.to_le_bytes());
        assert!(matches!(
            Artifact::from_bytes(&newer),
            Err(ArtifactError::Version { .. })
        ));
        let mut short = MAGIC.to_vec();
        short.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        short.extend_from_slice(&100u32.to_le_bytes());
        short.extend_from_slice(b"{}");
        assert!(matches!(
            Artifact::from_bytes(&short),
            Err(ArtifactError::Corrupt(_))
        ));
    }
}
