//! The scoring path's tests: request parsing (every JSON shape, CSV), schema errors naming
//! the field and the row, and the same predictions whatever the shape (and as training's
//! batch transform gives). Models are fitted here, on seeded data.

mod csv;
mod frame;
mod parse;
mod score;
mod server;

use std::collections::BTreeMap;

use cairn_core::models::Algorithm;
use cairn_model::artifact::{Artifact, FORMAT_VERSION, Header, Label, Provenance, Task};
use cairn_model::estimator::{Target, fit};
use cairn_model::prep::{Encoding, ImputeRule, InputRule, fit_inputs, transform};
use polars::prelude::*;

use crate::model::Model;
use crate::schema::UnknownFields;
use crate::{Dialect, ParseOptions};

/// A seeded table: `x1` (float), `n` (int, with nulls; imputed by median), `plan` (text,
/// one-hot; imputed by most frequent), `flag` (bool).
pub(crate) fn table(rows: usize) -> DataFrame {
    let mut state = 7u64;
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        (state >> 33) as f64 / (1u64 << 31) as f64
    };
    let mut x1 = Vec::new();
    let mut n = Vec::new();
    let mut plan = Vec::new();
    let mut flag = Vec::new();
    for i in 0..rows {
        x1.push((next() * 100.0).round() / 10.0);
        n.push(if i % 7 == 3 {
            None
        } else {
            Some((next() * 20.0) as i64)
        });
        plan.push(if i % 11 == 5 {
            None
        } else {
            Some(["free", "pro", "team"][(next() * 3.0) as usize % 3])
        });
        flag.push(next() > 0.5);
    }
    df!("x1" => x1, "n" => n, "plan" => plan, "flag" => flag).unwrap()
}

fn rules() -> Vec<(String, InputRule)> {
    vec![
        ("x1".to_owned(), InputRule::default()),
        (
            "n".to_owned(),
            InputRule {
                impute: Some(ImputeRule::Median),
                ..InputRule::default()
            },
        ),
        (
            "plan".to_owned(),
            InputRule {
                impute: Some(ImputeRule::MostFrequent),
                encode: Some(Encoding::OneHot),
                ..InputRule::default()
            },
        ),
        ("flag".to_owned(), InputRule::default()),
    ]
}

/// A decision tree classifier (labels "no" and "yes") or a linear regressor, fitted on
/// [`table`].
pub(crate) fn model(classifier: bool) -> Model {
    let frame = table(200);
    let all: Vec<usize> = (0..frame.height()).collect();
    let inputs = fit_inputs(&frame, &rules(), &all).unwrap();
    let x = transform(&frame, &inputs).unwrap();
    let x1 = frame.column("x1").unwrap().f64().unwrap().clone();
    let flags = frame.column("flag").unwrap().bool().unwrap().clone();
    let (algorithm, task, classes, values) = if classifier {
        let y: Vec<u32> = x1
            .iter()
            .zip(flags.iter())
            .map(|(a, f)| {
                u32::from(a.unwrap_or(0.0) + if f == Some(true) { 2.0 } else { 0.0 } > 6.0)
            })
            .collect();
        (
            Algorithm::DecisionTreeClassifier,
            Task::Classification {
                labels: vec![Label::Text("no".into()), Label::Text("yes".into())],
            },
            y,
            Vec::new(),
        )
    } else {
        let v: Vec<f64> = x1.iter().map(|a| 3.0 * a.unwrap_or(0.0) - 1.0).collect();
        (Algorithm::LinearRegression, Task::Regression, Vec::new(), v)
    };
    let target = if classifier {
        Target::Classes {
            y: &classes,
            n_classes: 2,
        }
    } else {
        Target::Values(&values)
    };
    let (fitted, params) = fit(algorithm, &BTreeMap::new(), 1, &x, target, &|_, _| {}).unwrap();
    let artifact = Artifact {
        header: Header {
            format: FORMAT_VERSION,
            model: "m".into(),
            algorithm: algorithm.as_str().into(),
            params,
            seed: 1,
            target: "y".into(),
            task,
            inputs,
            provenance: Provenance::default(),
        },
        fitted,
    };
    Model::detached(if classifier { "churn" } else { "price" }, 3, artifact)
}

pub(crate) fn cairn() -> ParseOptions {
    ParseOptions {
        dialect: Dialect::Cairn,
        unknown: UnknownFields::Reject,
    }
}

pub(crate) fn mlflow() -> ParseOptions {
    ParseOptions {
        dialect: Dialect::Mlflow,
        unknown: UnknownFields::Reject,
    }
}
