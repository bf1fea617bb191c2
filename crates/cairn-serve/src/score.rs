//! The scoring path, shared by every endpoint and by `cairn predict`: rows in slots →
//! schema check (missing, wrong type, non-finite, null without imputation: an error naming
//! the field and the row) → the preprocessing the artifact recorded (`encode_row`, the code
//! training's `transform` is tested against) → the model (one row through `predict_row`,
//! several as one matrix through `predict_matrix`).

use std::cell::{Cell, RefCell};

use cairn_model::Matrix;
use cairn_model::artifact::Predictions;
use cairn_model::metrics::argmax;
use cairn_model::prep::{InputError, encode_row};
use serde_json::Value;

use crate::error::ScoreError;
use crate::model::Model;
use crate::rows::Rows;
use crate::schema::Schema;

/// The predictions for some rows.
#[derive(Debug, Clone, PartialEq)]
pub enum Scored {
    /// Classifiers: each row's class (an index into the model's labels) and the class
    /// probabilities, row-major (rows × classes).
    Classes {
        class: Vec<usize>,
        proba: Vec<f64>,
        n_classes: usize,
    },
    /// Regressors: each row's value.
    Values(Vec<f64>),
}

impl Scored {
    pub fn len(&self) -> usize {
        match self {
            Scored::Classes { class, .. } => class.len(),
            Scored::Values(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Row `i`'s class probabilities (classifiers).
    pub fn proba(&self, i: usize) -> Option<&[f64]> {
        match self {
            Scored::Classes {
                proba, n_classes, ..
            } => Some(&proba[i * n_classes..(i + 1) * n_classes]),
            Scored::Values(_) => None,
        }
    }
}

thread_local! {
    /// The encoded row of a single-row request, reused by every request on this thread.
    static SCRATCH: RefCell<Vec<f64>> = const { RefCell::new(Vec::new()) };
}

/// Scores rows with a model: the one scoring path.
pub fn score(model: &Model, rows: &Rows) -> Result<Scored, ScoreError> {
    rows.check_finite(&model.schema)?;
    match rows.len() {
        0 => Err(ScoreError::Empty),
        1 => SCRATCH.with(|scratch| {
            let mut scratch = scratch.borrow_mut();
            score_one(model, rows, &mut scratch)
        }),
        n => score_many(model, rows, n),
    }
}

fn score_one(model: &Model, rows: &Rows, scratch: &mut Vec<f64>) -> Result<Scored, ScoreError> {
    let cursor = Cell::new(0);
    let prediction = model
        .artifact
        .predict_row(getter(&model.schema, rows, 0, &cursor), scratch)
        .map_err(|e| input_error(e, 0))?;
    Ok(match prediction.probabilities {
        Some(proba) => Scored::Classes {
            class: vec![argmax(&proba)],
            n_classes: proba.len(),
            proba,
        },
        None => Scored::Values(vec![prediction.prediction.as_f64().unwrap_or(f64::NAN)]),
    })
}

fn score_many(model: &Model, rows: &Rows, n: usize) -> Result<Scored, ScoreError> {
    let inputs = model.schema.inputs();
    let width: usize = inputs.iter().map(|i| i.width()).sum();
    let mut columns: Vec<Vec<f64>> = (0..width).map(|_| Vec::with_capacity(n)).collect();
    let mut scratch = Vec::with_capacity(width);
    for row in 0..n {
        let cursor = Cell::new(0);
        encode_row(
            inputs,
            getter(&model.schema, rows, row, &cursor),
            &mut scratch,
        )
        .map_err(|e| input_error(e, row))?;
        for (column, x) in columns.iter_mut().zip(&scratch) {
            column.push(*x);
        }
    }
    let matrix = Matrix { columns, rows: n };
    Ok(match model.artifact.predict_matrix(&matrix) {
        Predictions::Classes {
            class,
            proba,
            n_classes,
        } => Scored::Classes {
            class,
            proba,
            n_classes,
        },
        Predictions::Values(v) => Scored::Values(v),
    })
}

/// The value of an input in a row, by name. The preprocessing asks for the inputs in the
/// schema's order, so the next slot is tried first and the index is the fallback.
fn getter<'a>(
    schema: &'a Schema,
    rows: &'a Rows,
    row: usize,
    cursor: &'a Cell<usize>,
) -> impl Fn(&str) -> Option<&'a Value> + 'a {
    move |name: &str| {
        let next = cursor.get();
        let slot = match schema.inputs().get(next) {
            Some(input) if input.name == name => next,
            _ => schema.slot(name)?,
        };
        cursor.set(slot + 1);
        rows.get(row, slot)
    }
}

fn input_error(e: InputError, row: usize) -> ScoreError {
    match e {
        InputError::MissingColumn { column } => ScoreError::MissingField { field: column, row },
        InputError::Invalid { column, reason } => ScoreError::WrongType {
            field: column,
            row,
            reason,
        },
        InputError::Missing { column, .. } => ScoreError::Null {
            field: column,
            row,
            why: None,
        },
    }
}
