//! A model's input schema as the scoring path uses it: the artifact's inputs in order, and a
//! name → position index that costs a few nanoseconds per lookup.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use cairn_model::prep::{Input, InputKind};
use serde::Serialize;

/// What an unknown field (a name that is not an input of the model) does to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UnknownFields {
    /// Refused with an error naming the field and the row (the default: a misspelt input
    /// would otherwise be silently replaced by its imputed value, or refused as missing).
    #[default]
    Reject,
    /// Skipped.
    Ignore,
}

/// FNV-1a: the input names are few and short, and come from the model, not from an attacker
/// who could choose colliding names to slow the server (a request's names are looked up, not
/// inserted).
#[derive(Default)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

/// The inputs of a model, in the artifact's order (a row's slot `i` holds input `i`).
#[derive(Debug, Clone)]
pub struct Schema {
    inputs: Vec<Input>,
    index: HashMap<Box<str>, usize, BuildHasherDefault<Fnv>>,
    /// `a, b, c`: for messages.
    listing: String,
}

impl Schema {
    pub fn new(inputs: Vec<Input>) -> Schema {
        let index = inputs
            .iter()
            .enumerate()
            .map(|(i, input)| (input.name.as_str().into(), i))
            .collect();
        let listing = inputs
            .iter()
            .map(|i| i.name.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        Schema {
            inputs,
            index,
            listing,
        }
    }

    pub fn inputs(&self) -> &[Input] {
        &self.inputs
    }

    pub fn len(&self) -> usize {
        self.inputs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.inputs.is_empty()
    }

    /// The position of input `name`.
    pub fn slot(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    /// The input names, comma-separated.
    pub fn listing(&self) -> &str {
        &self.listing
    }

    /// Whether input `slot` has a fill value (a null there is imputed, not refused), or is a
    /// number a boosted model takes missing (NaN).
    pub fn imputes(&self, slot: usize) -> bool {
        match &self.inputs[slot].kind {
            InputKind::Number {
                fill, keep_missing, ..
            } => fill.is_some() || *keep_missing,
            InputKind::Category { fill, .. } => fill.is_some(),
        }
    }

    /// Whether input `slot` is a category (text).
    pub fn is_category(&self, slot: usize) -> bool {
        matches!(self.inputs[slot].kind, InputKind::Category { .. })
    }
}

/// An input as `GET /v1/models` describes it.
#[derive(Debug, Clone, Serialize)]
pub struct InputDoc {
    pub name: String,
    /// `int`, `float`, `bool` or `string`.
    #[serde(rename = "type")]
    pub dtype: &'static str,
    /// The value a null becomes, when the model declares one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fill: Option<serde_json::Value>,
    /// For a string input: the categories seen in training (any other is encoded as unseen).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub categories: Option<Vec<String>>,
}

impl Schema {
    /// The schema as documents.
    pub fn docs(&self) -> Vec<InputDoc> {
        self.inputs
            .iter()
            .map(|input| match &input.kind {
                InputKind::Number { dtype, fill, .. } => InputDoc {
                    name: input.name.clone(),
                    dtype: dtype.as_str(),
                    fill: fill.map(serde_json::Value::from),
                    categories: None,
                },
                InputKind::Category {
                    categories, fill, ..
                } => InputDoc {
                    name: input.name.clone(),
                    dtype: "string",
                    fill: fill.clone().map(serde_json::Value::from),
                    categories: Some(categories.clone()),
                },
            })
            .collect()
    }
}
