//! Rows to score, as parsed from a request or read from a table: one slot per model input,
//! row after row, each slot a JSON value or absent. The values are exactly what the model's
//! preprocessing (`cairn_model::prep::encode_row`) takes, whatever the request's format was.

use serde_json::Value;

use crate::error::ScoreError;
use crate::schema::Schema;

/// The text a `NaN`, `Infinity` or `-Infinity` token of a request becomes while it is parsed
/// (JSON has no such numbers; Python's `json.dumps` writes them): a string no client sends,
/// turned into a [`ScoreError::NonFinite`] naming the field and the row before scoring.
pub(crate) const NON_FINITE_MARK: char = '\u{0}';

/// Rows in slots: `cells[row * width + slot]`.
#[derive(Debug, Clone, Default)]
pub struct Rows {
    width: usize,
    cells: Vec<Option<Value>>,
    len: usize,
    /// Some cell may hold a non-finite marker.
    pub(crate) marked: bool,
}

impl Rows {
    /// No rows, for a model with `width` inputs.
    pub fn new(width: usize) -> Rows {
        Rows {
            width,
            cells: Vec::with_capacity(width),
            len: 0,
            marked: false,
        }
    }

    /// Room for `rows` rows.
    pub fn with_capacity(width: usize, rows: usize) -> Rows {
        Rows {
            width,
            cells: Vec::with_capacity(width * rows),
            len: 0,
            marked: false,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn width(&self) -> usize {
        self.width
    }

    /// Adds a row with every slot absent; returns its index.
    pub fn push_row(&mut self) -> usize {
        self.cells.resize(self.cells.len() + self.width, None);
        self.len += 1;
        self.len - 1
    }

    /// Sets a slot of a row; `Err` if it was set already.
    pub fn set(&mut self, row: usize, slot: usize, value: Value) -> Result<(), Value> {
        let cell = &mut self.cells[row * self.width + slot];
        if cell.is_some() {
            return Err(value);
        }
        *cell = Some(value);
        Ok(())
    }

    /// The value of a slot of a row (`None`: absent).
    pub fn get(&self, row: usize, slot: usize) -> Option<&Value> {
        self.cells[row * self.width + slot].as_ref()
    }

    /// The slots of a row.
    pub fn row(&self, row: usize) -> &[Option<Value>] {
        &self.cells[row * self.width..(row + 1) * self.width]
    }

    /// Refuses the first non-finite marker (see [`NON_FINITE_MARK`]), naming its field and
    /// row. Free when the request held no `NaN` or `Infinity` token.
    pub(crate) fn check_finite(&self, schema: &Schema) -> Result<(), ScoreError> {
        if !self.marked {
            return Ok(());
        }
        for (i, cell) in self.cells.iter().enumerate() {
            if let Some(Value::String(s)) = cell
                && let Some(token) = s.strip_prefix(NON_FINITE_MARK)
            {
                return Err(ScoreError::NonFinite {
                    field: schema.inputs()[i % self.width].name.clone(),
                    row: i / self.width,
                    value: token.to_owned(),
                });
            }
        }
        Ok(())
    }
}
