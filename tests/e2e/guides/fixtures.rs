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
