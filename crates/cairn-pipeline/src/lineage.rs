//! `lineage`: where a registered model version comes from and what happened to it — the raw
//! data (by digest) and its validation, the feature tables and the sources they were computed
//! from, the training run, the version, and the version's history (registration, promotions,
//! aliases). Rendered as an indented tree, as Mermaid or as Graphviz DOT: plain text, for the
//! CLI to print.

use std::collections::BTreeMap;
use std::fmt::Write;

use cairn_core::Project;
use cairn_core::registry::{Action, HistoryEntry, Stage, Verdict};
use cairn_store::Digest;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::LineageError;
use crate::status::DriftResult;

/// A tracked table the run read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataNode {
    pub path: String,
    pub digest: String,
}

/// The source a feature table was computed from, as `cairn.lock` pins the table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceNode {
    pub path: String,
    pub digest: Digest,
}

/// A feature view's offline table the run joined.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureNode {
    pub view: String,
    pub digest: String,
    /// Known when `cairn.lock` still pins this table for the view and `cairn.toml` declares it.
    pub source: Option<SourceNode>,
    /// The source's check when the table was materialized (`passed`, `skipped`), if any.
    pub validation: Option<String>,
}

/// The training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunNode {
    pub id: String,
    pub record: Digest,
    pub spec: String,
    pub algorithm: String,
    pub commit: Option<String>,
    pub dirty: bool,
    /// From the run record, when the store has it.
    pub seed: Option<u64>,
    #[serde(default)]
    pub params: BTreeMap<String, Value>,
    /// The check of the training data against its declared expectations: `passed`,
    /// `skipped` (failed, and skipped as allowed) or `none` (none declared); unknown without
    /// the run record.
    pub validation: Option<String>,
}

/// A model version's lineage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lineage {
    pub model: String,
    pub version: u32,
    pub artifact: Digest,
    pub stage: Stage,
    /// The verdict of its last validation, if validated.
    pub validated: Option<Verdict>,
    pub data: Vec<DataNode>,
    pub features: Vec<FeatureNode>,
    pub run: RunNode,
    /// The model's history entries about this version, oldest first.
    pub history: Vec<HistoryEntry>,
    /// The model's last drift check, when it checked this version.
    pub drift: Option<DriftResult>,
}

/// The lineage of `reference` (`NAME@REF`).
pub fn lineage(project: &Project, reference: &str) -> Result<Lineage, LineageError> {
    let resolved = cairn_registry::resolve_in(project, reference)?;
    let lock = project
        .read_lock()
        .map_err(cairn_registry::RegistryError::from)?;
    let entry = &resolved.entry;
    let store = project.store()?;
    // The run record gives the seed, params and the data check; the lineage is drawn without
    // them when the store lacks it.
    let record = match store.read(&entry.record) {
        Ok(bytes) => Some(cairn_train::parse_run_record(&entry.run, &bytes)?),
        Err(cairn_store::StoreError::Missing { .. }) => None,
        Err(e) => return Err(e.into()),
    };
    let config = project.config();
    let features = entry
        .features
        .iter()
        .map(|(view, digest)| {
            let pinned = lock.feature.get(view).filter(|e| e.digest == *digest);
            FeatureNode {
                view: view.clone(),
                digest: digest.to_hex(),
                source: pinned.and_then(|e| {
                    config.feature_view.get(view).map(|spec| SourceNode {
                        path: spec.source.clone(),
                        digest: e.source,
                    })
                }),
                validation: pinned.and_then(|e| e.validation.clone()),
            }
        })
        .collect();
    let history = lock
        .model
        .get(&resolved.name)
        .map(|m| {
            m.history
                .iter()
                .filter(|h| h.version == resolved.version)
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    Ok(Lineage {
        model: resolved.name.clone(),
        version: resolved.version,
        artifact: entry.artifact,
        stage: entry.stage,
        validated: entry.validated,
        data: entry
            .data
            .iter()
            .map(|(path, digest)| DataNode {
                path: path.clone(),
                digest: digest.to_hex(),
            })
            .collect(),
        features,
        run: RunNode {
            id: entry.run.clone(),
            record: entry.record,
            spec: entry.spec.clone(),
            algorithm: entry.algorithm.clone(),
            commit: entry.commit.clone(),
            dirty: entry.dirty,
            seed: record.as_ref().map(|r| r.seed),
            params: record
                .as_ref()
                .map(|r| r.params.clone())
                .unwrap_or_default(),
            validation: record.map(|r| r.validation),
        },
        history,
        drift: DriftResult::last_of(project, &resolved.name)
            .filter(|d| d.version == resolved.version),
    })
}

fn short(hex: &str) -> &str {
    hex.get(..12).unwrap_or(hex)
}

/// One node of the drawn graph: an id, a label, and the ids it comes from.
struct Drawn {
    id: String,
    label: String,
    from: Vec<(String, Option<String>)>,
}

impl Lineage {
    fn version_label(&self) -> String {
        let mut label = format!(
            "{}@{}  artifact {}",
            self.model,
            self.version,
            short(&self.artifact.to_hex())
        );
        label.push_str(&format!("  stage {}", self.stage.as_str()));
        match self.validated {
            Some(v) => label.push_str(&format!("  validation {}", v.as_str())),
            None => label.push_str("  not validated"),
        }
        label
    }

    fn run_label(&self) -> String {
        let r = &self.run;
        let mut label = format!("run {}  {} ({})", r.id, r.spec, r.algorithm);
        if let Some(seed) = r.seed {
            label.push_str(&format!("  seed {seed}"));
        }
        match &r.commit {
            Some(c) => label.push_str(&format!("  commit {}", short(c))),
            None => label.push_str("  no commit"),
        }
        if r.dirty {
            label.push_str(" (uncommitted changes)");
        }
        label
    }

    /// The training data's check, as the run recorded it.
    fn data_check(&self) -> &'static str {
        match self.run.validation.as_deref() {
            Some("passed") => "passed",
            Some("skipped") => "failed, skipped as allowed",
            Some("none") => "no expectations declared",
            Some(_) => "unknown",
            None => "unknown (the run record is not in the store)",
        }
    }

    fn data_label(d: &DataNode) -> String {
        format!("data {}  {}", d.path, short(&d.digest))
    }

    fn feature_label(f: &FeatureNode) -> String {
        format!("feature table {}  {}", f.view, short(&f.digest))
    }

    fn source_label(s: &SourceNode) -> String {
        format!("source {}  {}", s.path, short(&s.digest.to_hex()))
    }

    fn history_label(h: &HistoryEntry) -> String {
        let mut label = format!("{} {}", h.at, h.action.as_str());
        match (h.action, &h.from, &h.to) {
            (Action::Promote | Action::Rollback, from, Some(to)) => {
                let from = from.map_or_else(|| "none".to_owned(), |f| f.to_string());
                label.push_str(&format!(" {from} -> {to}"));
            }
            (Action::Alias | Action::Unalias, _, _) => {
                if let Some(alias) = &h.alias {
                    label.push_str(&format!(" {alias}"));
                }
            }
            _ => {}
        }
        if h.forced {
            label.push_str(" (forced)");
        }
        label.push_str(&format!(" by {}", h.actor));
        label
    }

    fn drift_label(&self) -> String {
        match &self.drift {
            None => "drift: not checked".to_owned(),
            Some(d) => format!("drift: {}", d.summary()),
        }
    }

    /// The graph, in order: sources, feature tables, data, run, version, history, drift.
    fn drawn(&self) -> Vec<Drawn> {
        let mut out = Vec::new();
        let mut into_run = Vec::new();
        for (i, f) in self.features.iter().enumerate() {
            let mut from = Vec::new();
            if let Some(s) = &f.source {
                let id = format!("s{i}");
                out.push(Drawn {
                    id: id.clone(),
                    label: Self::source_label(s),
                    from: Vec::new(),
                });
                from.push((
                    id,
                    f.validation.as_ref().map(|v| format!("validation: {v}")),
                ));
            }
            let id = format!("f{i}");
            out.push(Drawn {
                id: id.clone(),
                label: Self::feature_label(f),
                from,
            });
            into_run.push((id, None));
        }
        for (i, d) in self.data.iter().enumerate() {
            let id = format!("d{i}");
            out.push(Drawn {
                id: id.clone(),
                label: Self::data_label(d),
                from: Vec::new(),
            });
            into_run.push((id, Some(format!("validation: {}", self.data_check()))));
        }
        out.push(Drawn {
            id: "run".to_owned(),
            label: self.run_label(),
            from: into_run,
        });
        out.push(Drawn {
            id: "version".to_owned(),
            label: self.version_label(),
            from: vec![("run".to_owned(), None)],
        });
        let mut previous = "version".to_owned();
        for (i, h) in self.history.iter().enumerate() {
            let id = format!("h{i}");
            out.push(Drawn {
                id: id.clone(),
                label: Self::history_label(h),
                from: vec![(previous, None)],
            });
            previous = id;
        }
        out.push(Drawn {
            id: "drift".to_owned(),
            label: self.drift_label(),
            from: vec![("version".to_owned(), None)],
        });
        out
    }

    /// An indented tree, the version at the top: what it was built from below it, then its
    /// history and its last drift check.
    pub fn tree(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{}", self.version_label());
        let _ = writeln!(out, "├── {}", self.run_label());
        let mut inputs: Vec<(String, Vec<String>)> = Vec::new();
        if !self.run.params.is_empty() {
            let params: Vec<String> = self
                .run
                .params
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            inputs.push((format!("params {}", params.join(" ")), Vec::new()));
        }
        for d in &self.data {
            let check = format!("data validation: {}", self.data_check());
            inputs.push((Self::data_label(d), vec![check]));
        }
        for f in &self.features {
            let mut below = Vec::new();
            match &f.source {
                Some(s) => {
                    let mut line = Self::source_label(s);
                    if let Some(v) = &f.validation {
                        line.push_str(&format!("  validation: {v}"));
                    }
                    below.push(line);
                }
                None => {
                    below.push("source: unknown (cairn.lock pins another table now)".to_owned())
                }
            }
            inputs.push((Self::feature_label(f), below));
        }
        for (i, (label, below)) in inputs.iter().enumerate() {
            let last = i + 1 == inputs.len();
            let (branch, indent) = if last {
                ("└── ", "    ")
            } else {
                ("├── ", "│   ")
            };
            let _ = writeln!(out, "│   {branch}{label}");
            for (j, line) in below.iter().enumerate() {
                let sub = if j + 1 == below.len() {
                    "└── "
                } else {
                    "├── "
                };
                let _ = writeln!(out, "│   {indent}{sub}{line}");
            }
        }
        let _ = writeln!(out, "├── history");
        if self.history.is_empty() {
            let _ = writeln!(out, "│   └── (none)");
        }
        for (i, h) in self.history.iter().enumerate() {
            let branch = if i + 1 == self.history.len() {
                "└── "
            } else {
                "├── "
            };
            let _ = writeln!(out, "│   {branch}{}", Self::history_label(h));
        }
        let _ = writeln!(out, "└── {}", self.drift_label());
        out
    }

    /// A Mermaid flowchart, left to right.
    pub fn mermaid(&self) -> String {
        let mut out = String::from("flowchart LR\n");
        let drawn = self.drawn();
        for node in &drawn {
            let _ = writeln!(out, "    {}[\"{}\"]", node.id, mermaid_text(&node.label));
        }
        for node in &drawn {
            for (from, label) in &node.from {
                match label {
                    Some(l) => {
                        let _ = writeln!(out, "    {from} -->|{}| {}", mermaid_text(l), node.id);
                    }
                    None => {
                        let _ = writeln!(out, "    {from} --> {}", node.id);
                    }
                }
            }
        }
        out
    }

    /// A Graphviz DOT digraph, left to right.
    pub fn dot(&self) -> String {
        let mut out = String::from("digraph lineage {\n    rankdir=LR;\n    node [shape=box];\n");
        let drawn = self.drawn();
        for node in &drawn {
            let _ = writeln!(
                out,
                "    {} [label=\"{}\"];",
                node.id,
                dot_text(&node.label)
            );
        }
        for node in &drawn {
            for (from, label) in &node.from {
                match label {
                    Some(l) => {
                        let _ = writeln!(
                            out,
                            "    {from} -> {} [label=\"{}\"];",
                            node.id,
                            dot_text(l)
                        );
                    }
                    None => {
                        let _ = writeln!(out, "    {from} -> {};", node.id);
                    }
                }
            }
        }
        out.push_str("}\n");
        out
    }
}

/// Text inside a Mermaid `["…"]` label or `|…|` edge label.
fn mermaid_text(text: &str) -> String {
    text.replace('"', "#quot;")
        .replace('|', "#124;")
        .replace('<', "#lt;")
        .replace('>', "#gt;")
}

/// Text inside a DOT double-quoted string.
fn dot_text(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}
