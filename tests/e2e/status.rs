use cairn_e2e::Project;

#[test]
fn status_reports_each_kind_of_change() {
    let p = Project::new();
    p.write("data/raw.csv", "a\n");
    p.tree("data/images", 20, 3);
    p.cairn(&["data", "add", "data/raw.csv", "data/images"])
        .ok();
    let doc = p.json(&["data", "status"], 0);
    assert_eq!(doc["kind"], "data-status");
    assert_eq!(doc["clean"], true);
    p.cairn(&["data", "status", "--check"])
        .ok()
        .stderr_has("matches cairn.lock");

    p.write("data/images/d1/f1.bin", "modified");
    p.write("data/images/new/extra.bin", "new");
    std::fs::remove_file(p.path("data/images/d2/f2.bin")).unwrap();
    std::fs::remove_file(p.path("data/raw.csv")).unwrap();
    let doc = p.json(&["data", "status"], 0);
    assert_eq!(doc["clean"], false);
    let images = &doc["entries"][0];
    assert_eq!(images["path"], "data/images");
    assert_eq!(images["state"], "modified");
    assert_eq!(
        images["modified"],
        serde_json::json!(["data/images/d1/f1.bin"])
    );
    assert_eq!(
        images["added"],
        serde_json::json!(["data/images/new/extra.bin"])
    );
    assert_eq!(
        images["removed"],
        serde_json::json!(["data/images/d2/f2.bin"])
    );
    assert_eq!(doc["entries"][1]["state"], "missing");

    // --check says no with exit 1; a path filter narrows the report.
    p.cairn(&["data", "status", "--check"])
        .code(1)
        .stdout_has("modified")
        .stdout_has("missing");
    let doc = p.json(&["data", "status", "--check", "data/images/d1"], 1);
    assert_eq!(
        doc["entries"][0]["modified"],
        serde_json::json!(["data/images/d1/f1.bin"])
    );
    assert_eq!(doc["entries"][0]["added"], serde_json::json!([]));
    p.cairn(&["data", "status", "untracked.csv"])
        .code(2)
        .stderr_has("not tracked");
}

#[test]
fn status_notices_same_size_edits() {
    let p = Project::new();
    p.write("a.csv", "1234\n");
    p.cairn(&["data", "add", "a.csv"]).ok();
    // Same size, written right after the add: the racily-clean rule must catch it.
    p.write("a.csv", "5678\n");
    p.cairn(&["data", "status", "--check"]).code(1);
}
