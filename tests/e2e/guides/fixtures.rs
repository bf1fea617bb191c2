//! The data of the guides' examples, built by code from seeded generators: the same bytes on
//! every run, so the digests the guides show stay literal.

use cairn_e2e::Rng;

/// A number in `[0, 1)` with four decimals.
fn unit(rng: &mut Rng) -> f64 {
    (rng.next() % 10_000) as f64 / 10_000.0
}

fn pick<'a>(rng: &mut Rng, items: &[&'a str]) -> &'a str {
    items[(rng.next() % items.len() as u64) as usize]
}

/// `data/transactions.csv` of the data and remotes guides: card transactions.
pub fn transactions(rows: usize, seed: u64) -> String {
    let mut rng = Rng(seed);
    let mut out =
        String::from("transaction_id,customer_id,amount,currency,channel,is_fraud,created_at\n");
    for i in 0..rows {
        let customer = rng.next() % 100;
        let amount = (rng.next() % 50_000) as f64 / 100.0;
        let currency = pick(&mut rng, &["EUR", "EUR", "EUR", "USD", "GBP"]);
        let channel = pick(&mut rng, &["web", "app", "pos"]);
        let fraud = u8::from(unit(&mut rng) < 0.05);
        let minute = i * 7;
        out.push_str(&format!(
            "{},C-{customer:02},{amount:.2},{currency},{channel},{fraud},2026-11-{:02}T{:02}:{:02}:00\n",
            1000 + i,
            1 + (minute / 1440) % 28,
            (minute / 60) % 24,
            minute % 60
        ));
    }
    out
}

/// A small binary file (an "image" of the data guide).
pub fn image(size: usize, seed: u64) -> Vec<u8> {
    Rng(seed).bytes(size)
}

/// `labels.csv` of the data guide's images.
pub fn image_labels(files: &[&str], seed: u64) -> String {
    let mut rng = Rng(seed);
    let mut out = String::from("file,label\n");
    for file in files {
        out.push_str(&format!("{file},{}\n", pick(&mut rng, &["cat", "dog"])));
    }
    out
}

/// `data/train.csv` of the registered models: two numbers and a label that follows their
/// sum, with noise.
pub fn churn_table(rows: usize, seed: u64) -> String {
    let mut rng = Rng(seed);
    let mut out = String::from("x1,x2,label\n");
    for _ in 0..rows {
        let (x1, x2) = (unit(&mut rng), unit(&mut rng));
        let noise = unit(&mut rng) * 0.3;
        let label = if x1 + x2 + noise > 1.15 { "yes" } else { "no" };
        out.push_str(&format!("{x1},{x2},{label}\n"));
    }
    out
}

/// The spec of `churn` over [`churn_table`].
pub const CHURN_SPEC: &str = r#"
[model.churn]
data = "data/train.csv"
target = "label"
algorithm = "decision_tree_classifier"
params = { max_depth = 3 }
seed = 7
"#;

/// Seconds since the epoch, now.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0))
}

/// `YYYY-MM-DDTHH:MM:SS` (UTC) of seconds since the epoch.
pub fn iso(secs: i64) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // The civil date of a day number (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// The validation guide's card transactions, the newest at `newest` (seconds since the
/// epoch): as first shown (`fixed` false, with every problem the guide finds) or fixed.
pub fn card_transactions(newest: i64, fixed: bool) -> String {
    // (id, customer, amount, currency, channel, fraud, seconds before the newest)
    let rows: [(u32, &str, &str, &str, &str, u8, i64); 8] = if fixed {
        [
            (1001, "C-17", "25.90", "EUR", "web", 0, 13_500),
            (1002, "C-17", "112.00", "EUR", "app", 0, 10_669),
            (1003, "C-42", "5.00", "EUR", "web", 0, 8955),
            (1004, "C-08", "64.10", "USD", "pos", 1, 6540),
            (1005, "C-42", "48.50", "EUR", "pos", 0, 6450),
            (1006, "C-42", "48.50", "EUR", "pos", 0, 6450),
            (1007, "C-99", "22.00", "GBP", "app", 0, 900),
            (1008, "C-03", "1999.99", "EUR", "web", 1, 0),
        ]
    } else {
        [
            (1001, "C-17", "25.90", "EUR", "web", 0, 13_500),
            (1002, "C-17", "112.00", "EUR", "app", 0, 10_669),
            (1003, "C-42", "-5.00", "EUR", "web", 0, 8955),
            (1004, "C-08", "NaN", "USD", "pos", 1, 6540),
            (1005, "C-42", "48.50", "EUR", "fax", 0, 6450),
            (1005, "C-42", "48.50", "EUR", "fax", 0, 6450),
            (1007, "C-99", "", "GBP", "app", 0, 900),
            (1008, "C-03", "19999.99", "EUR", "web", 1, 0),
        ]
    };
    let mut out =
        String::from("transaction_id,customer_id,amount,currency,channel,is_fraud,created_at\n");
    for (id, customer, amount, currency, channel, fraud, before) in rows {
        out.push_str(&format!(
            "{id},{customer},{amount},{currency},{channel},{fraud},{}\n",
            iso(newest - before)
        ));
    }
    out
}

/// The files of the validation guide's `data/events`, the newest event at `newest`: rows
/// 1–3, 4–5 and 6–7 of one table; row 5 has an unknown kind, rows 5 and 6 share an id.
pub fn events(newest: i64) -> [(&'static str, String); 3] {
    let file = |rows: &[(u32, &str, i64)]| {
        let mut out = String::from("event_id,kind,ts\n");
        for (id, kind, before) in rows {
            out.push_str(&format!("{id},{kind},{}\n", iso(newest - before)));
        }
        out
    };
    [
        (
            "data/events/batch-1/part-0.csv",
            file(&[
                (1, "view", 86_400),
                (2, "click", 85_000),
                (3, "view", 80_000),
            ]),
        ),
        (
            "data/events/batch-2/part-0.csv",
            file(&[(4, "view", 3600), (5, "checkout", 1800)]),
        ),
        (
            "data/events/batch-2/part-1.csv",
            file(&[(5, "view", 600), (6, "click", 0)]),
        ),
    ]
}

/// `data/customer_stats.csv` of the features guide's worked example. Unlike the other
/// fixtures, its rows are chosen one by one (each is a case of the point-in-time join the
/// guide walks through: a backfill, an empty value, a NaN, a row at a ttl's bound), so they
/// are written out rather than drawn.
pub const CUSTOMER_STATS: &str = "\
customer_id,ts,computed_at,spend_7d,txn_count_7d,segment
C-17,2026-11-23T00:00:00,2026-11-23T01:00:00,120.50,4,retail
C-17,2026-11-24T00:00:00,2026-11-24T01:00:00,,5,retail
C-17,2026-11-25T00:00:00,2026-11-25T01:00:00,139.00,5,retail
C-17,2026-11-25T00:00:00,2026-11-26T09:00:00,141.00,6,retail
C-42,2026-11-20T00:00:00,2026-11-20T01:00:00,50.00,1,smb
C-08,2026-11-25T00:00:00,2026-11-25T01:00:00,NaN,2,retail
";

/// `data/merchants.csv` of the features guide (see [`CUSTOMER_STATS`]).
pub const MERCHANTS: &str = "\
mid,updated,status,category,risk_pct
3,2026-11-01,active,electronics,12.5
7,2026-11-01,active,grocery,2.0
7,2026-11-20,active,grocery,3.5
9,2026-11-10,test,gambling,80.0
";

/// `data/labels.csv` of the features guide: the entity table (see [`CUSTOMER_STATS`]).
pub const LABELS: &str = "\
transaction_id,customer_id,merchant_id,event_timestamp,is_fraud
1,C-17,7,2026-11-23T00:00:00,0
2,C-17,7,2026-11-24T12:00:00,0
3,C-17,3,2026-11-25T12:00:00,1
3,C-17,3,2026-11-25T12:00:00,1
4,C-42,7,2026-11-22T00:00:00,0
5,C-42,7,2026-11-22T00:00:01,0
6,C-08,3,2026-11-26T00:00:00,0
7,C-99,99,2026-11-26T00:00:00,0
8,C-17,7,2026-11-22T23:59:59,0
";

/// `data/customers.csv` of the training and registry guides: six sign-ups a month from
/// January 2026, two without `support_calls` (rows 9 and 33). Churn follows short tenure,
/// many support calls and the basic plan, with noise.
pub fn customers(rows: u64, seed: u64) -> String {
    let mut rng = Rng(seed);
    let mut out = String::from(
        "customer_id,signup,tenure_months,monthly_charges,plan,support_calls,churned\n",
    );
    for i in 0..rows {
        let tenure = 1 + rng.next() % 48;
        let premium = rng.next().is_multiple_of(2);
        let charges = (if premium { 7500 } else { 1400 } + rng.next() % 1500) as f64 / 100.0;
        let calls = rng.next() % 5;
        let score = calls as f64 * 0.3 - tenure as f64 / 24.0
            + if premium { 0.0 } else { 0.4 }
            + unit(&mut rng) * 0.8;
        let churned = if score > 0.35 { "yes" } else { "no" };
        let calls = if i == 8 || i == 32 {
            String::new()
        } else {
            calls.to_string()
        };
        out.push_str(&format!(
            "C-{:03},2026-{:02}-{:02},{tenure},{charges:.2},{},{calls},{churned}\n",
            i + 1,
            1 + (i / 6) % 12,
            1 + 5 * (i % 6),
            if premium { "premium" } else { "basic" },
        ));
    }
    out
}

/// `data/march.csv` of the training guide: customers as [`customers`], one of whose
/// `monthly_charges` (row 7) is `n/a`.
pub fn march(seed: u64) -> String {
    let text = customers(60, seed);
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let mut fields: Vec<String> = lines[7].split(',').map(str::to_owned).collect();
    fields[3] = "n/a".to_owned();
    lines[7] = fields.join(",");
    lines.join("\n") + "\n"
}

/// `data/activity.csv` and `data/labels.csv` of the training guide's section on features:
/// the calls and spend of each of 60 customers over three months, and whether they churned
/// in mid-November (those who called a lot lately, mostly).
pub fn activity_and_labels(seed: u64) -> (String, String) {
    let mut rng = Rng(seed);
    let mut activity = String::from("customer_id,ts,calls_30d,spend_30d\n");
    let mut labels = String::from("customer_id,event_timestamp,churned\n");
    for i in 1..=60 {
        let mut last = 0;
        for month in 9..=11 {
            let calls = rng.next() % 5;
            let spend = (2000 + rng.next() % 10_000) as f64 / 100.0;
            activity.push_str(&format!(
                "C-{i:03},2026-{month:02}-01T00:00:00,{calls},{spend}\n"
            ));
            last = calls;
        }
        let churned = u8::from(last >= 3);
        labels.push_str(&format!("C-{i:03},2026-11-15T00:00:00,{churned}\n"));
    }
    (activity, labels)
}
