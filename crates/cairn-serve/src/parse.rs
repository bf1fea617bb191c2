//! Request bodies → [`Rows`]: the JSON shapes (cairn's `instances` / `inputs` / `entities`,
//! MLflow's `dataframe_split` / `dataframe_records` / `instances` / `inputs`) and CSV.
//!
//! JSON is read in one pass straight into the rows' slots: object keys are borrowed from the
//! body and looked up in the model's schema, numbers are not allocated, and an unknown or
//! repeated field stops the parse with an error naming it and its row.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::error::ScoreError;
use crate::rows::{NON_FINITE_MARK, Rows};
use crate::schema::{Schema, UnknownFields};

/// Which top-level keys a JSON body may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// cairn's endpoints: exactly one of `instances`, `inputs`, `dataframe_split`,
    /// `dataframe_records` or `entities`; any other key is refused.
    Cairn,
    /// MLflow's `/invocations`: exactly one of `dataframe_split`, `dataframe_records`,
    /// `instances` or `inputs` (or `entities`); `params` and any other key are ignored, as
    /// MLflow's scoring server ignores them.
    Mlflow,
}

/// How to parse a body.
#[derive(Debug, Clone, Copy)]
pub struct ParseOptions {
    pub dialect: Dialect,
    pub unknown: UnknownFields,
}

/// A parsed body: rows of inputs, or entities whose inputs the online store holds.
#[derive(Debug, Clone)]
pub enum Parsed {
    Rows(Rows),
    /// Each entity's join keys (`{"user_id": 123}`), in request order.
    Entities(Vec<BTreeMap<String, Value>>),
}

impl Parsed {
    pub fn len(&self) -> usize {
        match self {
            Parsed::Rows(rows) => rows.len(),
            Parsed::Entities(e) => e.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The data keys of a JSON body.
const DATA_KEYS: &str = "instances, inputs, dataframe_split, dataframe_records or entities";

/// Parses a JSON body against a model's schema.
pub fn parse_json(
    body: &[u8],
    schema: &Schema,
    options: ParseOptions,
) -> Result<Parsed, ScoreError> {
    match parse_once(body, schema, options) {
        Err(Failure::Syntax(reason)) => {
            // JSON has no NaN or Infinity, but Python's json module writes them: read them as
            // markers, so that the error names the field and the row.
            let Some(rewritten) = mark_non_finite(body) else {
                return Err(ScoreError::Malformed { reason });
            };
            match parse_once(&rewritten, schema, options) {
                Ok(Parsed::Rows(mut rows)) => {
                    rows.marked = true;
                    rows.check_finite(schema)?;
                    Ok(Parsed::Rows(rows))
                }
                Ok(parsed) => Ok(parsed),
                Err(Failure::Score(e)) => Err(e),
                Err(Failure::Syntax(_)) => Err(ScoreError::Malformed { reason }),
            }
        }
        Err(Failure::Score(e)) => Err(e),
        Ok(parsed) if parsed.is_empty() => Err(ScoreError::Empty),
        Ok(parsed) => Ok(parsed),
    }
}

enum Failure {
    Score(ScoreError),
    Syntax(String),
}

fn parse_once(body: &[u8], schema: &Schema, options: ParseOptions) -> Result<Parsed, Failure> {
    let mut state = State {
        schema,
        options,
        error: None,
        parsed: None,
    };
    let mut de = serde_json::Deserializer::from_slice(body);
    let result = Top(&mut state).deserialize(&mut de).and_then(|()| de.end());
    if let Some(e) = state.error {
        return Err(Failure::Score(e));
    }
    if let Err(e) = result {
        return Err(Failure::Syntax(e.to_string()));
    }
    match state.parsed {
        Some(parsed) if parsed.is_empty() => Err(Failure::Score(ScoreError::Empty)),
        Some(parsed) => Ok(parsed),
        None => Err(Failure::Score(ScoreError::Shape {
            reason: format!("the body must be a JSON object with one of {DATA_KEYS}"),
        })),
    }
}

/// What the parse knows and has found so far.
struct State<'s> {
    schema: &'s Schema,
    options: ParseOptions,
    /// The first error about the content (not the syntax): it wins over serde's message.
    error: Option<ScoreError>,
    parsed: Option<Parsed>,
}

impl State<'_> {
    /// Records `e` and returns an error that stops serde.
    fn fail<E: de::Error>(&mut self, e: ScoreError) -> E {
        let message = e.to_string();
        self.error.get_or_insert(e);
        E::custom(message)
    }

    fn unknown<E: de::Error>(&mut self, field: &str, row: usize) -> Result<(), E> {
        match self.options.unknown {
            UnknownFields::Ignore => Ok(()),
            UnknownFields::Reject => Err(self.fail(ScoreError::UnknownField {
                field: field.to_owned(),
                row,
                inputs: self.schema.listing().to_owned(),
            })),
        }
    }

    fn found<E: de::Error>(&mut self, parsed: Parsed) -> Result<(), E> {
        if self.parsed.is_some() {
            return Err(self.fail(ScoreError::Shape {
                reason: format!("the body must have exactly one of {DATA_KEYS}, not several"),
            }));
        }
        self.parsed = Some(parsed);
        Ok(())
    }
}

/// An object's key, borrowed from the body unless it has escapes.
struct Key<'de>(std::borrow::Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }

            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(v.into()))
            }

            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(v.to_owned().into()))
            }
        }
        de.deserialize_str(KeyVisitor)
    }
}

/// The top-level object.
struct Top<'a, 's>(&'a mut State<'s>);

impl<'de> DeserializeSeed<'de> for Top<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<(), D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Top<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let state = self.0;
        while let Some(key) = map.next_key::<Key<'de>>()? {
            match key.0.as_ref() {
                "instances" | "dataframe_records" => {
                    let mut rows = Rows::new(state.schema.len());
                    map.next_value_seed(RowList {
                        state: &mut *state,
                        rows: &mut rows,
                    })?;
                    state.found(Parsed::Rows(rows))?;
                }
                "inputs" => {
                    let mut rows = Rows::new(state.schema.len());
                    map.next_value_seed(Inputs {
                        state: &mut *state,
                        rows: &mut rows,
                    })?;
                    state.found(Parsed::Rows(rows))?;
                }
                "dataframe_split" => {
                    let split: Split = map.next_value()?;
                    let rows = split_rows(split, state.schema, state.options.unknown)
                        .map_err(|e| state.fail::<A::Error>(e))?;
                    state.found(Parsed::Rows(rows))?;
                }
                "entities" => {
                    let entities: Vec<BTreeMap<String, Value>> =
                        map.next_value().map_err(|e: A::Error| {
                            state.fail::<A::Error>(ScoreError::Shape {
                                reason: format!(
                                    "`entities` must be a list of objects of join keys: {e}"
                                ),
                            })
                        })?;
                    state.found(Parsed::Entities(entities))?;
                }
                other => match state.options.dialect {
                    Dialect::Mlflow => {
                        map.next_value::<IgnoredAny>()?;
                    }
                    Dialect::Cairn => {
                        return Err(state.fail(ScoreError::Shape {
                            reason: format!(
                                "unknown key `{other}`: the body must have exactly one of {DATA_KEYS}"
                            ),
                        }));
                    }
                },
            }
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _seq: A) -> Result<(), A::Error> {
        Err(self.0.fail(ScoreError::Shape {
            reason: format!(
                "the body is a list; it must be a JSON object with one of {DATA_KEYS} (such as {{\"instances\": [...]}})"
            ),
        }))
    }
}

/// A list of rows (`instances`, `dataframe_records`, `inputs` as a list).
struct RowList<'a, 's> {
    state: &'a mut State<'s>,
    rows: &'a mut Rows,
}

impl<'de> DeserializeSeed<'de> for RowList<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<(), D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for RowList<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of rows")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq
            .next_element_seed(Row {
                state: &mut *self.state,
                rows: &mut *self.rows,
            })?
            .is_some()
        {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, _map: A) -> Result<(), A::Error> {
        Err(self.state.fail(ScoreError::Shape {
            reason: "a list of rows is expected here, not an object (columns go in `inputs`)"
                .into(),
        }))
    }
}

/// One row: an object of named values, or a list of values in the model's input order.
struct Row<'a, 's> {
    state: &'a mut State<'s>,
    rows: &'a mut Rows,
}

impl<'de> DeserializeSeed<'de> for Row<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<(), D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Row<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a row: an object of named values or a list of values")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let row = self.rows.push_row();
        while let Some(key) = map.next_key::<Key<'de>>()? {
            match self.state.schema.slot(&key.0) {
                Some(slot) => {
                    let value: Value = map.next_value()?;
                    if self.rows.set(row, slot, value).is_err() {
                        return Err(self.state.fail(ScoreError::Duplicate {
                            field: key.0.into_owned(),
                            row,
                        }));
                    }
                }
                None => {
                    self.state.unknown(&key.0, row)?;
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let row = self.rows.push_row();
        let width = self.rows.width();
        let mut n = 0;
        while let Some(value) = seq.next_element::<Value>()? {
            if n < width {
                let _ = self.rows.set(row, n, value);
            }
            n += 1;
        }
        if n != width {
            return Err(self.state.fail(ScoreError::Width {
                row,
                found: n,
                expected: width,
            }));
        }
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Err(self.not_a_row("null"))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Err(self.not_a_row("a boolean"))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Err(self.not_a_row("a number"))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Err(self.not_a_row("a number"))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Err(self.not_a_row("a number"))
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Err(self.not_a_row("a string"))
    }
}

impl Row<'_, '_> {
    fn not_a_row<E: de::Error>(self, what: &str) -> E {
        let row = self.rows.len();
        self.state.fail(ScoreError::Shape {
            reason: format!(
                "row {row} is {what}: a row is an object of named values or a list of values"
            ),
        })
    }
}

/// `inputs`: columns (`{"x": [1, 2], "y": [3, 4]}`, or one row of scalars `{"x": 1, "y": 3}`)
/// or a list of rows.
struct Inputs<'a, 's> {
    state: &'a mut State<'s>,
    rows: &'a mut Rows,
}

impl<'de> DeserializeSeed<'de> for Inputs<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<(), D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Inputs<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of columns or a list of rows")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        RowList {
            state: self.state,
            rows: self.rows,
        }
        .visit_seq(seq)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let width = self.rows.width();
        let mut columns: Vec<Option<Vec<Value>>> = vec![None; width];
        // (name, length, scalar) of the first column, to compare the others with.
        let mut first: Option<(String, usize, bool)> = None;
        while let Some(key) = map.next_key::<Key<'de>>()? {
            let Some(slot) = self.state.schema.slot(&key.0) else {
                self.state.unknown(&key.0, 0)?;
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            let (values, scalar) = match map.next_value::<Value>()? {
                Value::Array(values) => (values, false),
                other => (vec![other], true),
            };
            if columns[slot].is_some() {
                return Err(self.state.fail(ScoreError::Duplicate {
                    field: key.0.into_owned(),
                    row: 0,
                }));
            }
            match &first {
                None => first = Some((key.0.clone().into_owned(), values.len(), scalar)),
                Some((name, len, first_scalar)) => {
                    if *first_scalar != scalar || *len != values.len() {
                        return Err(self.state.fail(ScoreError::Ragged {
                            field: key.0.into_owned(),
                            found: values.len(),
                            first: name.clone(),
                            expected: *len,
                        }));
                    }
                }
            }
            columns[slot] = Some(values);
        }
        let n = first.map_or(0, |(_, len, _)| len);
        let mut columns: Vec<Option<std::vec::IntoIter<Value>>> =
            columns.into_iter().map(|c| c.map(Vec::into_iter)).collect();
        for _ in 0..n {
            let row = self.rows.push_row();
            for (slot, column) in columns.iter_mut().enumerate() {
                if let Some(value) = column.as_mut().and_then(Iterator::next) {
                    let _ = self.rows.set(row, slot, value);
                }
            }
        }
        Ok(())
    }
}

/// MLflow's `dataframe_split` (pandas' `to_dict(orient="split")`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Split {
    columns: Vec<String>,
    data: Vec<Vec<Value>>,
    #[serde(default)]
    #[allow(dead_code)]
    index: Option<IgnoredAny>,
}

fn split_rows(split: Split, schema: &Schema, unknown: UnknownFields) -> Result<Rows, ScoreError> {
    let mut slots = Vec::with_capacity(split.columns.len());
    let mut seen = vec![false; schema.len()];
    for name in &split.columns {
        let slot = schema.slot(name);
        match slot {
            Some(s) if seen[s] => {
                return Err(ScoreError::Duplicate {
                    field: name.clone(),
                    row: 0,
                });
            }
            Some(s) => seen[s] = true,
            None if unknown == UnknownFields::Reject => {
                return Err(ScoreError::UnknownField {
                    field: name.clone(),
                    row: 0,
                    inputs: schema.listing().to_owned(),
                });
            }
            None => {}
        }
        slots.push(slot);
    }
    let mut rows = Rows::with_capacity(schema.len(), split.data.len());
    for values in split.data {
        let row = rows.push_row();
        if values.len() != slots.len() {
            return Err(ScoreError::Width {
                row,
                found: values.len(),
                expected: slots.len(),
            });
        }
        for (slot, value) in slots.iter().zip(values) {
            if let Some(slot) = slot {
                let _ = rows.set(row, *slot, value);
            }
        }
    }
    Ok(rows)
}

/// The body with every `NaN`, `Infinity` and `-Infinity` token outside strings replaced by a
/// marker string, or `None` if it has none.
fn mark_non_finite(body: &[u8]) -> Option<Vec<u8>> {
    const TOKENS: [&[u8]; 3] = [b"-Infinity", b"Infinity", b"NaN"];
    let mut out = Vec::with_capacity(body.len() + 32);
    let mut in_string = false;
    let mut escaped = false;
    let mut found = false;
    let mut i = 0;
    while i < body.len() {
        let b = body[i];
        if in_string {
            out.push(b);
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            i += 1;
            continue;
        }
        if b == b'"' {
            in_string = true;
            out.push(b);
            i += 1;
            continue;
        }
        if let Some(token) = TOKENS.iter().find(|t| body[i..].starts_with(t)) {
            out.push(b'"');
            // The marker, escaped as JSON: \u0000.
            out.extend_from_slice(format!("\\u{:04x}", NON_FINITE_MARK as u32).as_bytes());
            out.extend_from_slice(token);
            out.push(b'"');
            i += token.len();
            found = true;
            continue;
        }
        out.push(b);
        i += 1;
    }
    found.then_some(out)
}
