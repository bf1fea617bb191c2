//! `text/csv` bodies → [`Rows`]: a header row of input names, then one record per row
//! (RFC 4180: fields may be quoted, `""` is a quote inside a quoted field, records end with
//! LF or CRLF). As pandas' `to_csv()` writes them: a first column with an empty name (the
//! index) is skipped; an empty field is a null.
//!
//! Each field is typed by the input it goes to: text for a string input; for a number input,
//! a number (`nan`, `inf` are refused as non-finite), `true`/`false` (any case), or the text
//! itself, which the model's preprocessing then refuses with the input's expected type.

use serde_json::Value;

use crate::error::ScoreError;
use crate::rows::Rows;
use crate::schema::{Schema, UnknownFields};

/// Parses a CSV body against a model's schema.
pub fn parse_csv(body: &[u8], schema: &Schema, unknown: UnknownFields) -> Result<Rows, ScoreError> {
    let text = std::str::from_utf8(body).map_err(|e| ScoreError::Malformed {
        reason: format!("the CSV body is not UTF-8: {e}"),
    })?;
    let mut records = Records { text, pos: 0 };
    let header = records.next().transpose()?.ok_or(ScoreError::Empty)?;
    let mut slots: Vec<Option<usize>> = Vec::with_capacity(header.len());
    let mut seen = vec![false; schema.len()];
    for (i, name) in header.iter().enumerate() {
        let name = name.as_ref();
        let slot = schema.slot(name);
        match slot {
            Some(s) if seen[s] => {
                return Err(ScoreError::Duplicate {
                    field: name.to_owned(),
                    row: 0,
                });
            }
            Some(s) => seen[s] = true,
            // pandas' index column.
            None if i == 0 && name.is_empty() => {}
            None if unknown == UnknownFields::Reject => {
                return Err(ScoreError::UnknownField {
                    field: name.to_owned(),
                    row: 0,
                    inputs: schema.listing().to_owned(),
                });
            }
            None => {}
        }
        slots.push(slot);
    }
    let mut rows = Rows::new(schema.len());
    for record in records {
        let record = record?;
        // A blank line (pandas writes none; editors add one at the end).
        if record.len() == 1 && record[0].is_empty() && slots.len() > 1 {
            continue;
        }
        let row = rows.push_row();
        if record.len() != slots.len() {
            return Err(ScoreError::Width {
                row,
                found: record.len(),
                expected: slots.len(),
            });
        }
        for (slot, field) in slots.iter().zip(record) {
            let Some(slot) = *slot else { continue };
            let value = typed(schema, slot, field, row)?;
            let _ = rows.set(row, slot, value);
        }
    }
    if rows.is_empty() {
        return Err(ScoreError::Empty);
    }
    Ok(rows)
}

/// A CSV field as the JSON value its input takes.
fn typed(schema: &Schema, slot: usize, field: Field<'_>, row: usize) -> Result<Value, ScoreError> {
    if field.is_empty() {
        return Ok(Value::Null);
    }
    if schema.is_category(slot) {
        return Ok(Value::String(field.into_owned()));
    }
    let text = field.trim();
    if let Ok(x) = text.parse::<f64>() {
        return match serde_json::Number::from_f64(x) {
            Some(n) => Ok(Value::Number(
                // Integers stay integers (an int input refuses 1.5, not 1).
                text.parse::<i64>().map_or(n, serde_json::Number::from),
            )),
            None => Err(ScoreError::NonFinite {
                field: schema.inputs()[slot].name.clone(),
                row,
                value: text.to_owned(),
            }),
        };
    }
    if text.eq_ignore_ascii_case("true") {
        return Ok(Value::Bool(true));
    }
    if text.eq_ignore_ascii_case("false") {
        return Ok(Value::Bool(false));
    }
    Ok(Value::String(field.into_owned()))
}

/// The records of a CSV text, each a list of fields (borrowed unless quoted with `""`).
struct Records<'a> {
    text: &'a str,
    pos: usize,
}

type Field<'a> = std::borrow::Cow<'a, str>;

impl<'a> Iterator for Records<'a> {
    type Item = Result<Vec<Field<'a>>, ScoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.text.len() {
            return None;
        }
        let mut fields = Vec::new();
        loop {
            let field = if self.text.as_bytes()[self.pos..].first() == Some(&b'"') {
                match self.quoted() {
                    Ok(field) => field,
                    Err(e) => return Some(Err(e)),
                }
            } else {
                self.plain()
            };
            fields.push(field);
            match self.end_of_field() {
                Ok(true) => return Some(Ok(fields)),
                Ok(false) => {}
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

impl<'a> Records<'a> {
    /// An unquoted field, up to a comma or the end of the line.
    fn plain(&mut self) -> Field<'a> {
        let bytes = self.text.as_bytes();
        let start = self.pos;
        let end = bytes[start..]
            .iter()
            .position(|b| matches!(b, b',' | b'\n' | b'\r'))
            .map_or(bytes.len(), |n| start + n);
        self.pos = end;
        self.text[start..end].into()
    }

    /// A quoted field (`pos` at its opening quote): `""` inside it is one quote.
    fn quoted(&mut self) -> Result<Field<'a>, ScoreError> {
        let bytes = self.text.as_bytes();
        let start = self.pos + 1;
        let mut owned: Option<String> = None;
        let mut segment = start;
        let mut i = start;
        loop {
            match bytes.get(i) {
                None => {
                    return Err(ScoreError::Malformed {
                        reason: "a quoted CSV field is not closed".into(),
                    });
                }
                Some(b'"') if bytes.get(i + 1) == Some(&b'"') => {
                    let s = owned.get_or_insert_with(String::new);
                    s.push_str(&self.text[segment..i]);
                    s.push('"');
                    i += 2;
                    segment = i;
                }
                Some(b'"') => {
                    self.pos = i + 1;
                    return Ok(match owned {
                        Some(mut s) => {
                            s.push_str(&self.text[segment..i]);
                            s.into()
                        }
                        None => self.text[start..i].into(),
                    });
                }
                Some(_) => i += 1,
            }
        }
    }

    /// After a field: a comma (another field follows: `false`), or the end of the record.
    fn end_of_field(&mut self) -> Result<bool, ScoreError> {
        let bytes = self.text.as_bytes();
        match bytes.get(self.pos) {
            None => Ok(true),
            Some(b',') => {
                self.pos += 1;
                Ok(false)
            }
            Some(b'\n') => {
                self.pos += 1;
                Ok(true)
            }
            Some(b'\r') => {
                self.pos += 1;
                if bytes.get(self.pos) == Some(&b'\n') {
                    self.pos += 1;
                }
                Ok(true)
            }
            Some(_) => Err(ScoreError::Malformed {
                reason: "a quoted CSV field is followed by text before the next comma".into(),
            }),
        }
    }
}
