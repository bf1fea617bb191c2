//! What `cargo xtask gen` generates from the command line: the committed command reference
//! must be what the binary prints today, and completions and man pages must cover every
//! command.

use std::path::Path;

use cairn_e2e::Project;

#[test]
fn the_committed_command_reference_is_fresh() {
    let p = Project::bare();
    let run = p.cairn(&["util", "markdown-help"]);
    run.ok();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/reference/cli.md");
    let committed = std::fs::read_to_string(&path).expect("docs/reference/cli.md");
    assert!(
        committed == run.stdout,
        "docs/reference/cli.md is stale: run `cargo xtask gen` and commit it"
    );
    for command in [
        "cairn data add",
        "cairn models promote",
        "cairn hooks staged",
    ] {
        assert!(committed.contains(&format!("## `{command}`")), "{command}");
    }
}

#[test]
fn completions_and_man_pages_cover_every_command() {
    let p = Project::bare();
    for (shell, marker) in [
        ("bash", "complete -F _cairn"),
        ("zsh", "#compdef cairn"),
        ("fish", "complete -c cairn"),
    ] {
        let run = p.cairn(&["util", "completions", shell]);
        run.ok().stdout_has(marker);
        // Subcommands two levels down are completed too.
        run.stdout_has("promote").stdout_has("materialize");
    }
    p.cairn(&["util", "completions", "tcsh"]).code(2);
    p.cairn(&["util", "mangen", "man"])
        .ok()
        .stderr_has("man pages into");
    for page in [
        "cairn.1",
        "cairn-data-add.1",
        "cairn-models-promote.1",
        "cairn-util-mangen.1",
    ] {
        let text = std::fs::read_to_string(p.path("man").join(page)).expect(page);
        assert!(
            text.starts_with(".ie") || text.contains(".TH"),
            "{page}: {text}"
        );
    }
    assert!(!p.path("man/cairn-help.1").exists());
}
