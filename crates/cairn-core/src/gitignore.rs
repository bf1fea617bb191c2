use std::io;
use std::path::{Path, PathBuf};

use cairn_store::RelPath;
use cairn_store::atomic::write_atomic;

#[derive(Debug, thiserror::Error)]
#[error("cannot update {path}: {source}")]
pub struct GitignoreError {
    pub path: PathBuf,
    pub source: io::Error,
}

/// The `.gitignore` line that ignores exactly `path` (anchored at the project root, with
/// gitignore's special characters escaped).
pub fn ignore_pattern(path: &RelPath) -> String {
    let mut out = String::from("/");
    for (i, c) in path.as_str().chars().enumerate() {
        let special =
            matches!(c, '*' | '?' | '[' | ']' | '\\') || (i == 0 && matches!(c, '#' | '!'));
        if special {
            out.push('\\');
        }
        out.push(c);
    }
    // Trailing spaces are dropped by git unless escaped.
    if out.ends_with(' ') {
        out.pop();
        out.push_str("\\ ");
    }
    out
}

/// Appends the missing `lines` to `root/.gitignore` (atomically) and returns those added.
pub(crate) fn add_lines(
    root: &Path,
    tmp_dir: &Path,
    lines: &[String],
) -> Result<Vec<String>, GitignoreError> {
    let path = root.join(".gitignore");
    let err = |source| GitignoreError {
        path: path.clone(),
        source,
    };
    let mut text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(err(e)),
    };
    let present: std::collections::HashSet<&str> = text.lines().map(str::trim_end).collect();
    let added: Vec<String> = lines
        .iter()
        .filter(|l| !present.contains(l.as_str()))
        .cloned()
        .collect();
    if added.is_empty() {
        return Ok(added);
    }
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    for line in &added {
        text.push_str(line);
        text.push('\n');
    }
    write_atomic(&path, tmp_dir, text.as_bytes(), 0o644).map_err(err)?;
    Ok(added)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_are_anchored_and_escaped() {
        assert_eq!(
            ignore_pattern(&RelPath::new("data/raw.csv").unwrap()),
            "/data/raw.csv"
        );
        assert_eq!(
            ignore_pattern(&RelPath::new("#x/a[1]*.csv").unwrap()),
            "/\\#x/a\\[1\\]\\*.csv"
        );
        assert_eq!(
            ignore_pattern(&RelPath::new("trailing ").unwrap()),
            "/trailing\\ "
        );
    }

    #[test]
    fn add_lines_is_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let lines = vec!["/a".to_string(), "/b c".to_string()];
        assert_eq!(add_lines(dir.path(), dir.path(), &lines).unwrap().len(), 2);
        assert_eq!(add_lines(dir.path(), dir.path(), &lines).unwrap().len(), 0);
        let text = std::fs::read_to_string(dir.path().join(".gitignore")).unwrap();
        assert_eq!(text, "/a\n/b c\n");
    }
}
