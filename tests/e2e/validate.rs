//! `cairn data validate`: expectations from `[dataset."PATH"]` checked against CSV tables.

use cairn_e2e::Project;
use serde::Deserialize;

const TABLE: &str = "\
id,amount,country,ts
1,10.5,DE,2026-11-25T10:00:00
2,-3,FR,2026-11-25T11:00:00
3,NaN,XX,2026-11-24T09:00:00
3,,DE,2026-11-20T09:00:00
5,2000000,UK,2026-11-26T00:00:00
";

const EXPECTATIONS: &str = r#"
[dataset."data/t.csv"]
rows = { min = 10 }
unique = ["id"]

[dataset."data/t.csv".columns.amount]
dtype = "float"
not_null = true
min = 0
max = 1000000
max_null_share = 0.2

[dataset."data/t.csv".columns.country]
dtype = "string"
allowed = ["DE", "FR", "NL"]
"#;

fn project(table: &str, expectations: &str) -> Project {
    let p = Project::new();
    p.write("data/t.csv", table);
    let mut config = String::from_utf8(p.read("cairn.toml")).unwrap();
    config.push_str(expectations);
    p.write("cairn.toml", config);
    p
}

/// The `data-validate` document (docs/guide/validate.md#json-output), unknown fields refused.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Validated {
    kind: String,
    schema_version: u32,
    passed: bool,
    datasets: Vec<Dataset>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Dataset {
    path: String,
    rows: u64,
    passed: bool,
    checks: Vec<Check>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Check {
    check: String,
    column: Option<String>,
    expected: String,
    passed: bool,
    failing: u64,
    observed: Option<String>,
    #[serde(default)]
    examples: Vec<Example>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Example {
    row: u64,
    value: String,
}

/// Runs `cairn --json data validate ARGS`, expects `code`, decodes the document.
#[track_caller]
fn validate(p: &Project, args: &[&str], code: i32) -> Validated {
    let mut all = vec!["--json", "data", "validate"];
    all.extend_from_slice(args);
    let run = p.cairn(&all);
    run.code(code);
    let doc: Validated = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", run.stdout, run.stderr));
    assert_eq!(
        (doc.kind.as_str(), doc.schema_version),
        ("data-validate", 1)
    );
    assert_eq!(doc.passed, doc.datasets.iter().all(|d| d.passed), "{doc:?}");
    for dataset in &doc.datasets {
        assert_eq!(dataset.passed, dataset.checks.iter().all(|c| c.passed));
    }
    doc
}

/// The check of kind `kind` on `column` (`None`: a table-level check) of the first dataset.
#[track_caller]
fn check<'a>(doc: &'a Validated, kind: &str, column: Option<&str>) -> &'a Check {
    doc.datasets[0]
        .checks
        .iter()
        .find(|c| c.check == kind && c.column.as_deref() == column)
        .unwrap_or_else(|| panic!("no {kind} check for {column:?} in {doc:?}"))
}

fn rows(check: &Check) -> Vec<u64> {
    check.examples.iter().map(|x| x.row).collect()
}

fn observed(check: &Check) -> &str {
    check.observed.as_deref().unwrap_or_default()
}

#[test]
fn every_kind_of_failure_is_counted_with_example_rows() {
    let p = project(TABLE, EXPECTATIONS);
    let doc = validate(&p, &[], 1);
    assert!(!doc.passed);
    assert_eq!(doc.datasets.len(), 1);
    assert_eq!(doc.datasets[0].path, "data/t.csv");
    assert_eq!(doc.datasets[0].rows, 5);
    assert_eq!(doc.datasets[0].checks.len(), 9);

    let rows_check = check(&doc, "rows", None);
    assert_eq!(
        (rows_check.passed, rows_check.observed.as_deref()),
        (false, Some("5"))
    );
    assert!(check(&doc, "dtype", Some("amount")).passed);
    // NaN and an empty field are both missing.
    let not_null = check(&doc, "not_null", Some("amount"));
    assert_eq!(not_null.failing, 2);
    assert_eq!(rows(not_null), [3, 4]);
    let share = check(&doc, "max_null_share", Some("amount"));
    assert_eq!((share.passed, share.failing), (false, 2));
    // Bounds ignore missing values: NaN is not "above the maximum".
    let min = check(&doc, "min", Some("amount"));
    assert_eq!((min.failing, rows(min)), (1, vec![2]));
    assert_eq!(min.examples[0].value, "-3");
    let max = check(&doc, "max", Some("amount"));
    assert_eq!((max.failing, rows(max)), (1, vec![5]));
    let allowed = check(&doc, "allowed", Some("country"));
    assert_eq!(allowed.failing, 2);
    assert_eq!(allowed.expected, "one of DE, FR, NL");
    let values: Vec<&str> = allowed.examples.iter().map(|e| e.value.as_str()).collect();
    assert_eq!(values, ["XX", "UK"]);
    let unique = check(&doc, "unique", None);
    assert_eq!((unique.failing, rows(unique)), (2, vec![3, 4]));

    // The human report names the check, the column and the rows.
    p.cairn(&["data", "validate"])
        .code(1)
        .stdout_has("FAIL country  allowed: one of DE, FR, NL")
        .stdout_has("row 3: XX")
        .stderr_has("checks of 9 failed");
}

#[test]
fn a_table_that_meets_its_expectations_passes() {
    let clean = "id,amount,country\n1,1.5,DE\n2,2.5,NL\n";
    let p = project(
        clean,
        &EXPECTATIONS.replace("min = 10 }", "min = 1, max = 5 }"),
    );
    let doc = validate(&p, &["data/t.csv"], 0);
    assert!(doc.passed);
    let checks = &doc.datasets[0].checks;
    assert_eq!(checks.len(), 9);
    assert!(checks.iter().all(|c| c.passed && c.failing == 0), "{doc:?}");
    p.cairn(&["data", "validate"])
        .ok()
        .stderr_has("9 checks passed in 1 dataset");
}

#[test]
fn missing_columns_wrong_types_empty_tables_and_stale_data() {
    let p = project(
        "id,amount,ts\n",
        r#"
[dataset."data/t.csv"]
rows = { min = 1 }
unique = ["id", "region"]
freshness = { column = "ts", max_age = "7d" }

[dataset."data/t.csv".columns.amount]
not_null = true

[dataset."data/t.csv".columns.region]
allowed = ["north"]
"#,
    );
    let doc = validate(&p, &[], 1);
    assert_eq!(doc.datasets[0].rows, 0);
    assert!(!check(&doc, "rows", None).passed);
    assert!(
        check(&doc, "not_null", Some("amount")).passed,
        "nothing is missing from no rows"
    );
    let column = check(&doc, "column", Some("region"));
    assert!(observed(column).contains("id, amount, ts"), "{column:?}");
    assert!(observed(check(&doc, "unique", None)).contains("region"));
    assert!(!check(&doc, "freshness", Some("ts")).passed);

    // A timestamp that is old, and one that is text.
    p.write(
        "data/t.csv",
        "id,amount,ts,region\n1,1,2020-01-01T00:00:00,north\n",
    );
    let doc = validate(&p, &[], 1);
    let fresh = check(&doc, "freshness", Some("ts"));
    assert!(observed(fresh).starts_with("2020-01-01"), "{fresh:?}");
    p.write("data/t.csv", "id,amount,ts,region\n1,1,yesterday,north\n");
    let doc = validate(&p, &[], 1);
    let fresh = check(&doc, "freshness", Some("ts"));
    assert!(observed(fresh).contains("not a date"), "{fresh:?}");
}

#[test]
fn a_directory_of_csv_files_is_one_table() {
    let p = project("", "");
    std::fs::remove_file(p.path("data/t.csv")).unwrap();
    p.write("data/parts/a.csv", "id,v\n1,1\n2,2\n");
    p.write("data/parts/b.csv", "id,v\n2,3\n");
    let mut config = String::from_utf8(p.read("cairn.toml")).unwrap();
    config.push_str("\n[dataset.\"data/parts\"]\nrows = { min = 3, max = 3 }\nunique = [\"id\"]\n");
    p.write("cairn.toml", config);
    let doc = validate(&p, &["data/parts"], 1);
    assert_eq!(doc.datasets[0].path, "data/parts");
    assert_eq!(doc.datasets[0].rows, 3);
    assert!(check(&doc, "rows", None).passed);
    assert_eq!(rows(check(&doc, "unique", None)), [2, 3]);
    // Files with other columns cannot be stacked: exit 2, the file named.
    p.write("data/parts/c.csv", "id,w\n9,9\n");
    p.cairn(&["data", "validate"])
        .code(2)
        .stderr_has("c.csv")
        .stderr_has("`v` is missing");
}

#[test]
fn bad_tables_and_bad_declarations_are_usage_errors() {
    // A ragged CSV file.
    let p = project(
        "a,b\n1,2\n3,4,5,6\n",
        "\n[dataset.\"data/t.csv\"]\nrows = { min = 1 }\n",
    );
    p.cairn(&["data", "validate"])
        .code(2)
        .stderr_has("data/t.csv")
        .stderr_has("hint:");
    // A dataset that is not declared.
    p.write("data/other.csv", "a\n1\n");
    p.cairn(&["data", "validate", "data/other.csv"])
        .code(2)
        .stderr_has("no expectations are declared for data/other.csv")
        .stderr_has("[dataset.\"data/other.csv\"]");
    // Declarations cairn.toml cannot hold: the line, or the key, is named; nothing runs.
    let cases = [
        (
            "[dataset.\"data/t.csv\".columns.a]\ndtype = \"decimal\"\n",
            "cairn.toml:",
        ),
        (
            "[dataset.\"data/t.csv\".columns.a]\nnot_nul = true\n",
            "cairn.toml:",
        ),
        (
            "[dataset.\"data/t.csv\".columns.a]\nmax_null_share = 2\n",
            "`dataset.\"data/t.csv\".columns.a.max_null_share`",
        ),
        (
            "[dataset.\"data/t.csv\".columns.a]\nmin = 5\nmax = 1\n",
            "min (5) is larger than max (1)",
        ),
        (
            "[dataset.\"data/t.csv\"]\nfreshness = { column = \"ts\", max_age = \"a week\" }\n",
            "is not an age",
        ),
        (
            "[dataset.\"../outside.csv\"]\nrows = { min = 1 }\n",
            "dataset.\"../outside.csv\"",
        ),
    ];
    for (declaration, expected) in cases {
        let q = project("a\n1\n", &format!("\n{declaration}"));
        q.cairn(&["data", "validate"]).code(2).stderr_has(expected);
    }
    // No declaration at all.
    let bare = Project::new();
    bare.cairn(&["data", "validate"])
        .code(2)
        .stderr_has("no expectations are declared in cairn.toml");
}

/// A Parquet file written by pyarrow (uint8, int16, decimal, dictionary strings, a timestamp
/// zoned Europe/Berlin): every check runs on it, none crashes.
#[test]
fn parquet_from_another_writer_is_checked_like_any_table() {
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../crates/cairn-core/tests/fixtures/other_writer.parquet");
    let p = project(
        "",
        r#"
[dataset."data/o.parquet"]
unique = ["color", "at"]
freshness = { column = "at", max_age = "1d" }

[dataset."data/o.parquet".columns.id]
dtype = "int"
allowed = [1, 2, 3]

[dataset."data/o.parquet".columns.price]
dtype = "float"
max = 2.0
max_null_share = 0.5

[dataset."data/o.parquet".columns.color]
dtype = "string"
allowed = ["red"]
"#,
    );
    std::fs::copy(fixture, p.path("data/o.parquet")).unwrap();
    let doc = validate(&p, &["data/o.parquet"], 1);
    assert!(check(&doc, "dtype", Some("id")).passed);
    assert!(check(&doc, "allowed", Some("id")).passed);
    assert!(
        check(&doc, "dtype", Some("price")).passed,
        "decimals are floats"
    );
    let max = check(&doc, "max", Some("price"));
    assert_eq!((max.failing, rows(max)), (1, vec![2]));
    assert!(check(&doc, "max_null_share", Some("price")).passed);
    let color = check(&doc, "allowed", Some("color"));
    assert_eq!(color.examples[0].value, "blue");
    assert!(check(&doc, "unique", None).passed);
    let fresh = check(&doc, "freshness", Some("at"));
    assert!(!fresh.passed);
    assert!(
        observed(fresh).starts_with("2026-01-02 12:00:00"),
        "the zoned time in UTC: {fresh:?}"
    );
    // A passing share is not reported as failing rows.
    let human = p.cairn(&["data", "validate"]);
    human.code(1);
    let out = human.stdout.clone();
    let share_line = out.lines().find(|l| l.contains("max_null_share")).unwrap();
    assert!(!share_line.contains("failing"), "{share_line}");
}

#[test]
fn integer_codes_match_numbers_and_missing_values_are_not_categories() {
    let p = project(
        "code,label\n1.0,a\n2,b\nNaN,c\n3,\n",
        r#"
[dataset."data/t.csv".columns.code]
allowed = [1, 2]

[dataset."data/t.csv".columns.label]
allowed = ["a", "b", "c"]
"#,
    );
    let doc = validate(&p, &[], 1);
    let code = check(&doc, "allowed", Some("code"));
    assert_eq!(
        (code.failing, rows(code)),
        (1, vec![4]),
        "1.0 is 1, NaN is missing"
    );
    assert!(
        check(&doc, "allowed", Some("label")).passed,
        "an empty field is missing"
    );
    let bad = project(
        "a\n1\n",
        "\n[dataset.\"data/t.csv\".columns.a]\nallowed = [1.5]\n",
    );
    bad.cairn(&["data", "validate"])
        .code(2)
        .stderr_has("a string or an integer");
}
