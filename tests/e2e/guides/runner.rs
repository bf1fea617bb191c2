//! The guides' examples, run: a parser for the marked blocks of a guide, a session that runs
//! their commands in a throwaway directory tree, and a matcher that compares what they print
//! with what the guide shows.
//!
//! # Marking a block
//!
//! Every fenced block of a guide with a `$ COMMAND` line is an example of a command and its
//! output, and carries a marker on the line before its fence (an HTML comment, invisible on
//! the rendered page):
//!
//! - `<!-- check: NAME -->`: run and compared. Options follow the name, separated by `;`:
//!   `varies: TEXT` (repeatable) for a value the guide shows that is not the same from one run
//!   to the next and that no rule below recognises (the size of a set of objects that holds
//!   run records, say: a record holds timings); `any order` when the lines of an output come
//!   in an order that depends on such values (objects listed by digest); `command: CMD` for a
//!   block that shows only an output, which CMD prints.
//! - `<!-- not checked: REASON -->`: not run, for the reason given (real AWS credentials, a
//!   network failure, a race between two processes).
//! - `<!-- fixture: NAME -->` on a block that is not a command (a `cairn.toml` table): the
//!   test reads its text with [`Guide::fixture`] and uses it, so that what the guide shows is
//!   what runs.
//!
//! # What a command sees
//!
//! Each `$` line (with its `\` continuation lines and here-documents) runs in `sh`, in the
//! session's current directory, with stdout and stderr in one pipe, so that the output
//! interleaves as on a terminal. `cd` carries over to the next command, and `$?` is the
//! previous command's exit code. The session's temporary directory stands for `/`: the
//! guides' absolute paths (`/work/fraud`, `/mnt/team/cairn/fraud`) are made real in the
//! command, and the temporary directory is taken out of the output again. The environment is
//! pinned: `HOME`, a git configuration with the guides' user, `main` as the first branch and
//! `git@example.com:acme/` pointing at `/git/acme/`, git's dates (so commit ids are stable),
//! `NO_COLOR`, `TZ=UTC`, `LC_ALL=C`, and `PATH` starting with the `cairn` under test.
//!
//! # Matching
//!
//! Lines are compared exactly, but for trailing white space and these values, which really
//! vary from run to run:
//!
//! - clock times: a time in the guide (`2026-11-26T15:03:04.192608Z`, `2026-11-25 12:00:00`)
//!   matches a time of the same shape that lies in the session's window (from its start, less
//!   the guide's slack, to now), and only such a time: the times of the fixtures' data are
//!   literal;
//! - durations (`0.04 s`, `390.5ms`): any number;
//! - run ids, the digests of run records and, in guides that say so, of model artifacts,
//!   git commits and `cairn.lock` blobs (which hold a registration's time): a hex token of the
//!   guide matches itself or one of those values, bound to it for the rest of the guide (the
//!   same token of the guide always stands for the same value, and a prefix of it for a
//!   prefix of that value). A command that names a bound token (`cairn runs show 9d2d`) gets
//!   the value it is bound to.
//!
//! Digests of seeded fixture data are stable and stay literal.
//!
//! Set `CAIRN_BLESS_GUIDES=1` to write the outputs cairn printed into the guide instead of
//! failing (then read `git diff`).

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// One `$` command of a block and the output the guide shows for it.
#[derive(Debug, Clone)]
struct Example {
    /// The command, continuation lines and here-documents included.
    command: String,
    expected: Vec<String>,
    /// 0-based line of the guide where `expected` starts, and how many lines it has.
    at: usize,
    /// The indentation of the block in the guide.
    indent: String,
}

#[derive(Debug, Clone, Default)]
struct Options {
    varies: Vec<String>,
    any_order: bool,
}

/// A block marked `check`.
#[derive(Debug, Clone)]
struct Block {
    name: String,
    /// 1-based line of the fence.
    line: usize,
    examples: Vec<Example>,
    options: Options,
}

/// The checked blocks of a guide, in order, the blocks marked `fixture`, and its text.
struct Parsed {
    blocks: Vec<Block>,
    fixtures: Vec<(String, String)>,
    lines: Vec<String>,
}

/// The marker before a fence.
enum Marker {
    Check(String),
    NotChecked,
    Fixture(String),
}

fn parse(guide: &str, text: &str) -> Parsed {
    let lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let mut blocks = Vec::new();
    let mut fixtures = Vec::new();
    let mut unmarked = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = &lines[i];
        let trimmed = line.trim_start();
        if !trimmed.starts_with("```") {
            i += 1;
            continue;
        }
        let indent = line[..line.len() - trimmed.len()].to_owned();
        let fence_line = i;
        let mut end = i + 1;
        while end < lines.len() && lines[end].trim() != "```" {
            end += 1;
        }
        assert!(
            end < lines.len(),
            "{guide}:{}: a fence that is never closed",
            fence_line + 1
        );
        let body: Vec<String> = lines[i + 1..end]
            .iter()
            .map(|l| {
                l.strip_prefix(indent.as_str())
                    .unwrap_or(l.trim_start())
                    .to_owned()
            })
            .collect();
        let marker = marker_before(guide, &lines, fence_line);
        let has_prompt = body.iter().any(|l| l.starts_with("$ "));
        match marker {
            Some(Marker::Check(spec)) => {
                let (name, options, command) = parse_spec(guide, fence_line, &spec);
                let examples = match command {
                    Some(command) => {
                        assert!(
                            !has_prompt,
                            "{guide}:{}: `command:` is for a block that shows no `$` line",
                            fence_line + 1
                        );
                        vec![Example {
                            command,
                            expected: body.clone(),
                            at: fence_line + 1,
                            indent: indent.clone(),
                        }]
                    }
                    None => examples(guide, fence_line, &body, &indent),
                };
                assert!(
                    !examples.is_empty(),
                    "{guide}:{}: a checked block without a `$` line",
                    fence_line + 1
                );
                assert!(
                    blocks.iter().all(|b: &Block| b.name != name),
                    "{guide}: two blocks are named `{name}`"
                );
                blocks.push(Block {
                    name,
                    line: fence_line + 1,
                    examples,
                    options,
                });
            }
            Some(Marker::NotChecked) => {}
            Some(Marker::Fixture(name)) => {
                let mut text = body.join("\n");
                text.push('\n');
                fixtures.push((name, text));
            }
            None if has_prompt => unmarked.push(fence_line + 1),
            None => {}
        }
        i = end + 1;
    }
    assert!(
        unmarked.is_empty(),
        "{guide}: the blocks at lines {unmarked:?} show commands but are marked neither \
         `<!-- check: NAME -->` nor `<!-- not checked: REASON -->`"
    );
    Parsed {
        blocks,
        fixtures,
        lines,
    }
}

/// The marker on the last non-empty line before the fence, if any.
fn marker_before(guide: &str, lines: &[String], fence: usize) -> Option<Marker> {
    let before = lines[..fence].iter().rev().find(|l| !l.trim().is_empty())?;
    let inner = before
        .trim()
        .strip_prefix("<!--")?
        .strip_suffix("-->")?
        .trim();
    if let Some(spec) = inner.strip_prefix("check:") {
        Some(Marker::Check(spec.trim().to_owned()))
    } else if let Some(reason) = inner.strip_prefix("not checked:") {
        assert!(
            !reason.trim().is_empty(),
            "{guide}:{}: `not checked` needs a reason",
            fence
        );
        Some(Marker::NotChecked)
    } else {
        inner
            .strip_prefix("fixture:")
            .map(|name| Marker::Fixture(name.trim().to_owned()))
    }
}

fn parse_spec(guide: &str, fence: usize, spec: &str) -> (String, Options, Option<String>) {
    let mut parts = spec.split(';').map(str::trim);
    let name = parts.next().unwrap_or_default().to_owned();
    assert!(
        !name.is_empty() && !name.contains(' '),
        "{guide}:{}: a checked block needs a one-word name",
        fence + 1
    );
    let mut options = Options::default();
    let mut command = None;
    for part in parts {
        if let Some(text) = part.strip_prefix("varies:") {
            options.varies.push(text.trim().to_owned());
        } else if part == "any order" {
            options.any_order = true;
        } else if let Some(cmd) = part.strip_prefix("command:") {
            command = Some(cmd.trim().to_owned());
        } else {
            panic!("{guide}:{}: unknown option `{part}`", fence + 1);
        }
    }
    (name, options, command)
}

/// The `$` commands of a block and the lines that follow each.
fn examples(guide: &str, fence: usize, body: &[String], indent: &str) -> Vec<Example> {
    let mut out: Vec<Example> = Vec::new();
    let mut i = 0;
    while i < body.len() {
        let Some(first) = body[i].strip_prefix("$ ") else {
            assert!(
                !out.is_empty() || body[i].trim().is_empty(),
                "{guide}:{}: output before the first `$` line",
                fence + 2 + i
            );
            if let Some(last) = out.last_mut() {
                last.expected.push(body[i].clone());
            }
            i += 1;
            continue;
        };
        let mut command = first.to_owned();
        i += 1;
        // Continuation lines.
        while command.ends_with('\\') && i < body.len() {
            command.push('\n');
            command.push_str(&body[i]);
            i += 1;
        }
        // A here-document: its lines, up to the delimiter, belong to the command.
        if let Some(delimiter) = heredoc_delimiter(&command) {
            loop {
                assert!(
                    i < body.len(),
                    "{guide}:{}: here-document without its `{delimiter}` line",
                    fence + 1
                );
                command.push('\n');
                command.push_str(&body[i]);
                i += 1;
                if body[i - 1] == delimiter {
                    break;
                }
            }
        }
        out.push(Example {
            command,
            expected: Vec::new(),
            at: fence + 1 + i,
            indent: indent.to_owned(),
        });
    }
    out
}

fn heredoc_delimiter(command: &str) -> Option<String> {
    let rest = &command[command.find("<<")? + 2..];
    let word: String = rest
        .trim_start_matches('-')
        .trim_start()
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect();
    let word = word.trim_matches(|c| c == '\'' || c == '"').to_owned();
    (!word.is_empty()).then_some(word)
}

// ---------------------------------------------------------------------------------------
// The session

/// What varies in a guide beyond clock times, durations, run ids and run records.
#[derive(Debug, Clone, Copy, Default)]
pub struct Varies {
    /// Model artifacts, git commits and `cairn.lock` blobs: the guide commits locks that hold
    /// registrations (a time, a run id), so everything downstream of them varies.
    pub registry: bool,
    /// How far back of the session's start a time counts as the clock's (fixtures whose
    /// times are relative to now, for a freshness check).
    pub slack: Duration,
}

/// A guide, parsed, and the session its checked blocks run in.
pub struct Guide {
    file: PathBuf,
    name: String,
    parsed: Parsed,
    next: usize,
    root: PathBuf,
    _dir: tempfile::TempDir,
    cwd: String,
    last_code: i32,
    started: SystemTime,
    varies: Varies,
    bindings: Vec<(String, String)>,
    /// Every value that varies seen so far (see [`Guide::varying`]).
    seen: BTreeSet<String>,
    bless: bool,
    /// Outputs to write into the guide (bless mode): line, old length, indent, new lines.
    blessed: Vec<(usize, usize, String, Vec<String>)>,
    failures: Vec<String>,
}

impl Guide {
    /// Opens `docs/guide/NAME`, with an empty directory tree whose `cwd` (a path such as
    /// `/work/fraud`) exists.
    pub fn open(name: &str, cwd: &str, varies: Varies) -> Self {
        let file = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../docs/guide")
            .join(name);
        let text = std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("read {}: {e}", file.display()));
        let parsed = parse(name, &text);
        let dir = tempfile::Builder::new()
            .prefix("cairn-guide-")
            .tempdir()
            .expect("temp dir");
        let root = dir.path().canonicalize().expect("temp dir has a path");
        let guide = Self {
            file,
            name: name.to_owned(),
            parsed,
            next: 0,
            root,
            _dir: dir,
            cwd: cwd.to_owned(),
            last_code: 0,
            started: SystemTime::now(),
            varies,
            bindings: Vec::new(),
            seen: BTreeSet::new(),
            bless: std::env::var_os("CAIRN_BLESS_GUIDES").is_some_and(|v| v == "1"),
            blessed: Vec::new(),
            failures: Vec::new(),
        };
        std::fs::create_dir_all(guide.real(cwd)).expect("mkdir cwd");
        std::fs::create_dir_all(guide.root.join("home")).expect("mkdir home");
        let gitconfig = format!(
            "[user]\n\tname = Ann Lee\n\temail = ann@example.com\n\
             [init]\n\tdefaultBranch = main\n\
             [advice]\n\tdetachedHead = false\n\
             [url \"{}/git/acme/\"]\n\tinsteadOf = git@example.com:acme/\n",
            guide.root.display()
        );
        std::fs::write(guide.root.join("home/.gitconfig"), gitconfig).expect("gitconfig");
        guide
    }

    /// The real path of a path of the guide (`/work/fraud/data` → `<tmp>/work/fraud/data`);
    /// a relative path is relative to the current directory.
    pub fn real(&self, path: &str) -> PathBuf {
        if let Some(rel) = path.strip_prefix('/') {
            self.root.join(rel)
        } else {
            self.root.join(self.cwd.trim_start_matches('/')).join(path)
        }
    }

    /// Writes a fixture file (a path of the guide, see [`Guide::real`]).
    pub fn write(&self, path: &str, content: impl AsRef<[u8]>) {
        let path = self.real(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        let _ = std::fs::remove_file(&path);
        std::fs::write(&path, content).expect("write fixture");
    }

    /// Appends to a fixture file.
    pub fn append(&self, path: &str, content: impl AsRef<[u8]>) {
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(self.real(path))
            .expect("open fixture");
        file.write_all(content.as_ref()).expect("append");
    }

    /// The text of the block marked `<!-- fixture: NAME -->` (a `cairn.toml` table the
    /// guide shows, say), so that the test uses what the reader sees.
    #[track_caller]
    pub fn fixture(&self, name: &str) -> String {
        self.parsed
            .fixtures
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("{}: no block is marked `fixture: {name}`", self.name))
            .1
            .clone()
    }

    /// Reads a fixture file (a path of the guide).
    pub fn read(&self, path: &str) -> String {
        std::fs::read_to_string(self.real(path)).unwrap_or_else(|e| panic!("read {path}: {e}"))
    }

    /// The value of `key = "…"` in the `n`-th table headed `header` (from 0) of a TOML file
    /// such as `cairn.lock`.
    #[track_caller]
    pub fn toml_value(&self, path: &str, header: &str, n: usize, key: &str) -> String {
        let text = self.read(path);
        let prefix = format!("{key} = \"");
        let mut lines = text.lines();
        for _ in 0..=n {
            lines.find(|l| *l == header);
        }
        lines
            .take_while(|l| !l.starts_with('['))
            .find_map(|l| l.strip_prefix(prefix.as_str()))
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or_else(|| panic!("no `{key}` in table {n} `{header}` of {path}"))
            .to_owned()
    }

    /// Replaces an object of a project's store (a path of the guide) with other bytes.
    pub fn damage_object(&self, project: &str, digest: &str, content: &str) {
        use std::os::unix::fs::PermissionsExt;
        let path = self
            .real(project)
            .join(".cairn/objects")
            .join(&digest[..2])
            .join(&digest[2..]);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))
            .expect("object is writable");
        std::fs::write(&path, content).expect("damage the object");
    }

    /// Runs a step that the guide does not show (shell, as a `$` line is run) and asserts
    /// that it succeeds. Its output is not compared.
    #[track_caller]
    pub fn sh(&mut self, command: &str) -> String {
        let real = self.translate_command(command);
        let (code, output) = self.run(&real);
        assert_eq!(
            code, 0,
            "{}: setup step `{command}` failed:\n{output}",
            self.name
        );
        output
    }

    /// Binds a hex token of the guide to a value of this session (a run whose id only a
    /// setup step printed), as a matched output would.
    pub fn bind(&mut self, doc: &str, actual: &str) {
        assert!(
            consistent(&self.bindings, doc, actual),
            "{}: `{doc}` is bound to another value",
            self.name
        );
        self.bindings.push((doc.to_owned(), actual.to_owned()));
    }

    /// Changes the session's directory without a `cd` in the guide (another machine).
    pub fn cd(&mut self, dir: &str) {
        std::fs::create_dir_all(self.real(dir)).expect("mkdir");
        self.cwd = dir.to_owned();
    }

    /// Runs the next checked block of the guide, which must be `name`.
    #[track_caller]
    pub fn check(&mut self, name: &str) {
        let Some(block) = self.parsed.blocks.get(self.next).cloned() else {
            panic!(
                "{}: no checked block is left, but the test runs `{name}`",
                self.name
            );
        };
        assert_eq!(
            block.name, name,
            "{}:{}: the next checked block is `{}`, but the test runs `{name}` (blocks run in \
             the order of the guide)",
            self.name, block.line, block.name
        );
        self.next += 1;
        for example in &block.examples {
            let command = self.translate_command(&example.command);
            let (code, output) = self.run(&command);
            self.last_code = code;
            let actual: Vec<String> = output.lines().map(|l| l.trim_end().to_owned()).collect();
            let actual = trim_trailing_empty(actual);
            let expected = trim_trailing_empty(
                example
                    .expected
                    .iter()
                    .map(|l| l.trim_end().to_owned())
                    .collect(),
            );
            if !self.matches(&expected, &actual, &block.options) {
                if self.bless {
                    self.blessed.push((
                        example.at,
                        trim_trailing_empty(example.expected.clone()).len(),
                        example.indent.clone(),
                        actual.clone(),
                    ));
                }
                self.failures.push(format!(
                    "{}:{} (block `{}`, exit code {code})\n$ {}\n--- the guide shows\n{}\n--- cairn printed\n{}\n",
                    self.name,
                    example.at + 1,
                    block.name,
                    example.command,
                    expected.join("\n"),
                    actual.join("\n")
                ));
            }
        }
    }

    /// Asserts that every checked block ran and matched (or, blessing, writes the outputs
    /// into the guide).
    #[track_caller]
    pub fn done(mut self) {
        let left: Vec<String> = self.parsed.blocks[self.next..]
            .iter()
            .map(|b| b.name.clone())
            .collect();
        if !left.is_empty() {
            self.failures.push(format!(
                "{}: checked blocks that the test never runs: {left:?}",
                self.name
            ));
        }
        if self.bless && !self.blessed.is_empty() {
            let mut lines = self.parsed.lines.clone();
            self.blessed.sort_by_key(|b| std::cmp::Reverse(b.0));
            for (at, len, indent, new) in std::mem::take(&mut self.blessed) {
                let new: Vec<String> = new
                    .into_iter()
                    .map(|l| {
                        if l.is_empty() {
                            l
                        } else {
                            format!("{indent}{l}")
                        }
                    })
                    .collect();
                lines.splice(at..at + len, new);
            }
            let mut text = lines.join("\n");
            text.push('\n');
            std::fs::write(&self.file, text).expect("write the guide");
        }
        assert!(
            self.failures.is_empty(),
            "{} problem(s) with {} (CAIRN_BLESS_GUIDES=1 writes the outputs cairn printed \
             into the guide):\n\n{}",
            self.failures.len(),
            self.name,
            self.failures.join("\n")
        );
    }

    /// Runs one command in `sh`, stdout and stderr in one pipe, and returns its exit code and
    /// its output with the session's root taken out.
    fn run(&mut self, command: &str) -> (i32, String) {
        let side = self.root.join(".cwd");
        let script = format!(
            "(exit {})\n{command}\n__cairn_rc=$?\npwd > '{}'\nexit $__cairn_rc\n",
            self.last_code,
            side.display()
        );
        let bin_dir = cairn_e2e::cairn_bin()
            .parent()
            .expect("the binary is in a directory")
            .to_owned();
        let path = match std::env::var_os("PATH") {
            Some(path) => {
                let mut dirs = vec![bin_dir];
                dirs.extend(std::env::split_paths(&path));
                std::env::join_paths(dirs).expect("PATH")
            }
            None => bin_dir.into_os_string(),
        };
        let (mut reader, writer) = std::io::pipe().expect("pipe");
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(&script)
            .current_dir(self.real(&self.cwd))
            .env_clear()
            .env("PATH", path)
            .env("HOME", self.root.join("home"))
            .env("NO_COLOR", "1")
            .env("TZ", "UTC")
            .env("LC_ALL", "C")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_DATE", "2026-11-26T12:00:00Z")
            .env("GIT_COMMITTER_DATE", "2026-11-26T12:00:00Z")
            .stdin(Stdio::null())
            .stdout(writer.try_clone().expect("pipe"))
            .stderr(writer);
        let mut child = cmd.spawn().expect("sh runs");
        drop(cmd);
        let mut bytes = Vec::new();
        reader.read_to_end(&mut bytes).expect("read the output");
        let status = child.wait().expect("sh ends");
        if let Ok(pwd) = std::fs::read_to_string(&side) {
            let pwd = pwd.trim_end();
            if let Some(rel) = Path::new(pwd)
                .strip_prefix(&self.root)
                .ok()
                .and_then(Path::to_str)
            {
                self.cwd = format!("/{rel}");
            }
            let _ = std::fs::remove_file(&side);
        }
        let output =
            String::from_utf8_lossy(&bytes).replace(self.root.to_str().expect("utf-8"), "");
        let varying = self.varying();
        self.seen.extend(varying);
        (status.code().unwrap_or(-1), output)
    }

    /// The guide's command with its absolute paths made real and bound tokens replaced.
    fn translate_command(&self, command: &str) -> String {
        let root = self.root.to_str().expect("utf-8 temp dir");
        let mut out = String::new();
        let chars: Vec<char> = command.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let at_start = i == 0 || " \t\n'\"=(".contains(chars[i - 1]);
            if at_start && chars[i] == '/' {
                let rest: String = chars[i..].iter().collect();
                if ["/work/", "/mnt/", "/git/"]
                    .iter()
                    .any(|p| rest.starts_with(p))
                {
                    out.push_str(root);
                }
            }
            if at_start && chars[i].is_ascii_hexdigit() {
                let token: String = chars[i..]
                    .iter()
                    .take_while(|c| c.is_ascii_alphanumeric())
                    .collect();
                if token.len() >= 4
                    && is_hex(&token)
                    && let Some(actual) = self.bound_value(&token)
                {
                    out.push_str(&actual);
                    i += token.chars().count();
                    continue;
                }
            }
            out.push(chars[i]);
            i += 1;
        }
        out
    }

    /// The value a token of a command stands for: the value bound to it, or for a prefix of
    /// a bound token, the same prefix of its value (the whole value if that prefix is
    /// ambiguous among the values seen).
    fn bound_value(&self, token: &str) -> Option<String> {
        let (doc, actual) = self
            .bindings
            .iter()
            .find(|(doc, _)| doc.starts_with(token))?;
        if doc.len() == token.len() {
            return Some(actual.clone());
        }
        let prefix = &actual[..token.len().min(actual.len())];
        let ambiguous = self
            .bindings
            .iter()
            .any(|(_, other)| other != actual && other.starts_with(prefix));
        Some(if ambiguous {
            actual.clone()
        } else {
            prefix.to_owned()
        })
    }

    fn matches(&mut self, expected: &[String], actual: &[String], options: &Options) -> bool {
        if expected.len() != actual.len() {
            return false;
        }
        let mut ctx = Ctx {
            guide: self,
            options,
        };
        if options.any_order {
            let mut used = vec![false; actual.len()];
            'lines: for e in expected {
                for (j, a) in actual.iter().enumerate() {
                    if !used[j] && ctx.line(e, a) {
                        used[j] = true;
                        continue 'lines;
                    }
                }
                return false;
            }
            true
        } else {
            expected.iter().zip(actual).all(|(e, a)| ctx.line(e, a))
        }
    }

    /// The values of this session that vary from run to run: run ids and the digests their
    /// refs name, and with `registry`, git commits and `cairn.lock` blobs.
    fn varying(&self) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let mut stack = vec![self.root.clone()];
        let mut repos = Vec::new();
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                let name = entry.file_name();
                let name = name.to_string_lossy();
                if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                    continue;
                }
                match name.as_ref() {
                    ".git" => repos.push(dir.clone()),
                    "objects" | "tmp" | "home" => {}
                    "runs" => {
                        for run in std::fs::read_dir(&path).into_iter().flatten().flatten() {
                            let id = run.file_name().to_string_lossy().into_owned();
                            if !is_hex(&id) {
                                continue;
                            }
                            let content = std::fs::read_to_string(run.path()).unwrap_or_default();
                            let mut words = content.split_whitespace();
                            if let Some(record) = words.next() {
                                out.insert(record.to_owned());
                            }
                            if let Some(artifact) = words.next()
                                && self.varies.registry
                                && artifact != "-"
                            {
                                out.insert(artifact.to_owned());
                            }
                            out.insert(id);
                        }
                    }
                    _ => stack.push(path),
                }
            }
        }
        if self.varies.registry {
            for repo in repos.iter().filter(|r| r.join("cairn.lock").exists()) {
                for args in [
                    &["rev-list", "--all"][..],
                    &["hash-object", "cairn.lock"],
                    &["rev-parse", "HEAD:cairn.lock"],
                ] {
                    let out_git = Command::new("git")
                        .args(args)
                        .current_dir(repo)
                        .env("HOME", self.root.join("home"))
                        .env("GIT_CONFIG_NOSYSTEM", "1")
                        .output();
                    if let Ok(o) = out_git {
                        for word in String::from_utf8_lossy(&o.stdout).split_whitespace() {
                            out.insert(word.to_owned());
                        }
                    }
                }
            }
        }
        out
    }
}

fn trim_trailing_empty(mut lines: Vec<String>) -> Vec<String> {
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    lines
}

fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

// ---------------------------------------------------------------------------------------
// Matching a line

/// A piece of a line of the guide.
#[derive(Debug)]
enum Segment {
    Text(String),
    /// A `varies:` value of the block: any text.
    Any,
    /// A clock time of this shape.
    Time(String),
    /// A number of a duration.
    Duration,
    /// A hex token: itself, or a varying value bound to it.
    Hex(String),
}

struct Ctx<'a> {
    guide: &'a mut Guide,
    options: &'a Options,
}

impl Ctx<'_> {
    /// Whether `actual` is `expected`; binds the hex tokens it needed to.
    fn line(&mut self, expected: &str, actual: &str) -> bool {
        if expected == actual {
            return true;
        }
        let segments = segments(expected, &self.options.varies);
        let mut bindings = self.guide.bindings.clone();
        if self.walk(&segments, actual, &mut bindings) {
            self.guide.bindings = bindings;
            true
        } else {
            false
        }
    }

    fn walk(
        &mut self,
        segments: &[Segment],
        actual: &str,
        bindings: &mut Vec<(String, String)>,
    ) -> bool {
        let Some((first, rest)) = segments.split_first() else {
            return actual.is_empty();
        };
        match first {
            Segment::Text(text) => actual
                .strip_prefix(text.as_str())
                .is_some_and(|tail| self.walk(rest, tail, bindings)),
            Segment::Any => (1..=actual.len())
                .filter(|&n| actual.is_char_boundary(n))
                .any(|n| self.walk(rest, &actual[n..], bindings)),
            Segment::Duration => {
                let n = actual
                    .bytes()
                    .take_while(|b| b.is_ascii_digit() || *b == b'.')
                    .count();
                n > 0 && self.walk(rest, &actual[n..], bindings)
            }
            Segment::Time(shape) => {
                let Some(candidate) = actual.get(..shape.len()) else {
                    return false;
                };
                (candidate == shape.as_str()
                    || same_shape(shape, candidate) && self.in_window(candidate))
                    && self.walk(rest, &actual[shape.len()..], bindings)
            }
            Segment::Hex(doc) => {
                let Some(candidate) = actual.get(..doc.len()) else {
                    return false;
                };
                if !is_hex(candidate) {
                    return false;
                }
                let tail = &actual[doc.len()..];
                if tail
                    .bytes()
                    .next()
                    .is_some_and(|b| b.is_ascii_alphanumeric())
                {
                    return false;
                }
                if candidate == doc.as_str() {
                    return self.walk(rest, tail, bindings);
                }
                let known = self.guide.seen.iter().any(|v| {
                    v.starts_with(candidate) && (v.len() == candidate.len() || candidate.len() >= 7)
                });
                if !known || !consistent(bindings, doc, candidate) {
                    return false;
                }
                bindings.push((doc.clone(), candidate.to_owned()));
                if self.walk(rest, tail, bindings) {
                    true
                } else {
                    bindings.pop();
                    false
                }
            }
        }
    }

    fn in_window(&self, text: &str) -> bool {
        let Some(secs) = parse_time(text) else {
            return false;
        };
        let from = self
            .guide
            .started
            .checked_sub(self.guide.varies.slack + Duration::from_secs(60))
            .unwrap_or(UNIX_EPOCH);
        let to = SystemTime::now() + Duration::from_secs(60);
        let at = UNIX_EPOCH + Duration::from_secs(secs);
        at >= from && at <= to
    }
}

/// Whether binding `doc` to `actual` keeps the bindings one-to-one, prefixes included.
fn consistent(bindings: &[(String, String)], doc: &str, actual: &str) -> bool {
    bindings.iter().all(|(d, a)| {
        let doc_related = d.starts_with(doc) || doc.starts_with(d.as_str());
        let actual_related = a.starts_with(actual) || actual.starts_with(a.as_str());
        doc_related == actual_related
    })
}

/// Splits a line of the guide into text and the values that may vary.
fn segments(line: &str, varies: &[String]) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut rest = line;
    'outer: while !rest.is_empty() {
        for v in varies {
            if let Some(i) = rest.find(v.as_str()) {
                auto_segments(&rest[..i], &mut out);
                out.push(Segment::Any);
                rest = &rest[i + v.len()..];
                continue 'outer;
            }
        }
        auto_segments(rest, &mut out);
        break;
    }
    out
}

/// Finds times, durations and hex tokens in a piece of text.
fn auto_segments(text: &str, out: &mut Vec<Segment>) {
    let bytes = text.as_bytes();
    let mut literal_from = 0;
    let mut i = 0;
    let boundary_before = |i: usize| i == 0 || !bytes[i - 1].is_ascii_alphanumeric();
    while i < bytes.len() {
        if text.is_char_boundary(i) && boundary_before(i) {
            if let Some(len) = time_at(&text[i..]) {
                push_text(out, &text[literal_from..i]);
                out.push(Segment::Time(text[i..i + len].to_owned()));
                i += len;
                literal_from = i;
                continue;
            }
            if let Some(len) = duration_at(&text[i..])
                && (i == 0 || bytes[i - 1] != b'.')
            {
                push_text(out, &text[literal_from..i]);
                out.push(Segment::Duration);
                i += len;
                literal_from = i;
                continue;
            }
            let hex = bytes[i..]
                .iter()
                .take_while(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
                .count();
            let end_ok = bytes
                .get(i + hex)
                .is_none_or(|b| !b.is_ascii_alphanumeric());
            if hex >= 7 && end_ok && bytes[i..i + hex].iter().any(u8::is_ascii_digit) {
                push_text(out, &text[literal_from..i]);
                out.push(Segment::Hex(text[i..i + hex].to_owned()));
                i += hex;
                literal_from = i;
                continue;
            }
        }
        i += 1;
    }
    push_text(out, &text[literal_from..]);
}

fn push_text(out: &mut Vec<Segment>, text: &str) {
    if !text.is_empty() {
        out.push(Segment::Text(text.to_owned()));
    }
}

/// `YYYY-MM-DD[T ]HH:MM:SS[.fff…][Z]` at the start of `text`: its length.
fn time_at(text: &str) -> Option<usize> {
    let b = text.as_bytes();
    let shape = b"dddd-dd-dd?dd:dd:dd";
    if b.len() < shape.len() {
        return None;
    }
    for (i, s) in shape.iter().enumerate() {
        let ok = match s {
            b'd' => b[i].is_ascii_digit(),
            b'?' => b[i] == b'T' || b[i] == b' ',
            c => b[i] == *c,
        };
        if !ok {
            return None;
        }
    }
    let mut len = shape.len();
    if b.get(len) == Some(&b'.') {
        let digits = b[len + 1..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        if digits > 0 {
            len += 1 + digits;
        }
    }
    if b.get(len) == Some(&b'Z') {
        len += 1;
    }
    if b.get(len).is_some_and(|c| c.is_ascii_alphanumeric()) {
        return None;
    }
    Some(len)
}

/// `N.N s` or `N.Nms` at the start of `text`: the length of the number.
fn duration_at(text: &str) -> Option<usize> {
    let b = text.as_bytes();
    let int = b.iter().take_while(|c| c.is_ascii_digit()).count();
    if int == 0 || b.get(int) != Some(&b'.') {
        return None;
    }
    let frac = b[int + 1..]
        .iter()
        .take_while(|c| c.is_ascii_digit())
        .count();
    if frac == 0 {
        return None;
    }
    let n = int + 1 + frac;
    let unit = &text[n..];
    let is_unit = |u: &str| {
        unit.strip_prefix(u)
            .is_some_and(|t| t.bytes().next().is_none_or(|c| !c.is_ascii_alphanumeric()))
    };
    (is_unit(" s") || is_unit("ms") || is_unit("µs")).then_some(n)
}

fn same_shape(shape: &str, candidate: &str) -> bool {
    shape.len() == candidate.len()
        && shape.bytes().zip(candidate.bytes()).all(|(s, c)| {
            if s.is_ascii_digit() {
                c.is_ascii_digit()
            } else {
                s == c
            }
        })
}

/// Seconds since the epoch of a `YYYY-MM-DD[T ]HH:MM:SS…` time (UTC).
fn parse_time(text: &str) -> Option<u64> {
    let num = |r: std::ops::Range<usize>| text.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + hh * 3600 + mm * 60 + ss).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_splits_into_text_and_what_varies() {
        let segs = segments(
            "run 5fd2170eec0a finished in 0.04 s (fit 0.01 s) at 2026-11-26T15:03:04.192608Z",
            &[],
        );
        let kinds: Vec<String> = segs
            .iter()
            .map(|s| match s {
                Segment::Text(t) => format!("T({t})"),
                Segment::Any => "Any".into(),
                Segment::Time(t) => format!("Time({t})"),
                Segment::Duration => "Dur".into(),
                Segment::Hex(h) => format!("Hex({h})"),
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "T(run )",
                "Hex(5fd2170eec0a)",
                "T( finished in )",
                "Dur",
                "T( s (fit )",
                "Dur",
                "T( s) at )",
                "Time(2026-11-26T15:03:04.192608Z)"
            ]
        );
    }

    /// What the checks stand on: a changed line fails, and only what really varies is
    /// matched loosely.
    #[test]
    fn a_block_fails_when_the_output_changes() {
        let mut g = Guide::open("data.md", "/work/x", Varies::default());
        let opts = Options::default();
        let lines = |text: &str| -> Vec<String> { text.lines().map(str::to_owned).collect() };
        let digest =
            "stored 1 object  4711bb03e92b1aac90aa62661220f435cb871293f4e054b9f666ca7ef3fbd765";
        let other =
            "stored 1 object  4711bb03e92b1aac90aa62661220f435cb871293f4e054b9f666ca7ef3fbd766";
        assert!(g.matches(&lines(digest), &lines(digest), &opts));
        assert!(
            !g.matches(&lines(digest), &lines(other), &opts),
            "a digest is literal"
        );
        assert!(!g.matches(&lines(digest), &lines(&format!("{digest}\nmore")), &opts));
        assert!(!g.matches(&lines("2 files"), &lines("3 files"), &opts));
        assert!(g.matches(
            &lines("finished in 0.04 s"),
            &lines("finished in 1.25 s"),
            &opts
        ));
        // A time of the clock's: the session's window only.
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let now = super::super::fixtures::iso(i64::try_from(now).unwrap_or(0));
        assert!(g.matches(
            &lines("at 2026-11-26T15:03:04Z"),
            &lines(&format!("at {now}Z")),
            &opts
        ));
        assert!(!g.matches(
            &lines("at 2026-11-26T15:03:04Z"),
            &lines("at 2001-01-01T00:00:00Z"),
            &opts
        ));
        // A run id that the session never produced is not a wildcard.
        assert!(!g.matches(
            &lines("run 5fd2170eec0a"),
            &lines("run 9d2d07278538"),
            &opts
        ));
    }

    #[test]
    fn times_parse_as_utc() {
        assert_eq!(parse_time("1970-01-02T00:00:01Z"), Some(86_401));
        assert_eq!(parse_time("2000-03-01 00:00:00"), Some(951_868_800));
    }
}
