use std::fmt;

/// Where in a TOML document something went wrong, for messages like `cairn.toml:3:8: …`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TomlLocation {
    pub line: usize,
    pub column: usize,
}

impl TomlLocation {
    pub fn of(text: &str, error: &toml::de::Error) -> Option<Self> {
        let span = error.span()?;
        let before = &text[..span.start.min(text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        Some(Self { line, column })
    }
}

impl fmt::Display for TomlLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

/// Formats a TOML error as `LOCATION: message` without toml's multi-line snippet.
pub(crate) fn describe(name: &str, text: &str, error: &toml::de::Error) -> String {
    let message = error.message().trim_end_matches('\n');
    match TomlLocation::of(text, error) {
        Some(loc) => format!("{name}:{}:{}: {message}", loc.line, loc.column),
        None => format!("{name}: {message}"),
    }
}
