use cairn_core::rng::Rng;

use super::bins::{FeatureBins, bin_feature, midpoint};
use super::*;
use crate::Matrix;

#[test]
fn bins_cover_each_distinct_value_when_few() {
    let column = [3.0, 1.0, 2.0, 2.0, -0.0, 0.0, 3.0];
    let FeatureBins {
        codes,
        bin_min: lo,
        bin_max: hi,
    } = bin_feature(0, &column, 255).unwrap();
    assert_eq!(lo, vec![-0.0, 1.0, 2.0, 3.0]);
    assert_eq!(lo, hi);
    assert_eq!(codes, vec![3, 1, 2, 2, 0, 0, 3]);
}

#[test]
fn quantile_bins_are_balanced_and_ordered() {
    let column: Vec<f64> = (0..1000).map(|i| f64::from((i * 7919) % 1000)).collect();
    let FeatureBins {
        codes,
        bin_min: lo,
        bin_max: hi,
    } = bin_feature(0, &column, 10).unwrap();
    assert_eq!(lo.len(), 10);
    let mut per_bin = [0usize; 10];
    for (&code, &v) in codes.iter().zip(&column) {
        let b = usize::from(code);
        assert!(lo[b] <= v && v <= hi[b], "{v} not in bin {b}");
        per_bin[b] += 1;
    }
    assert_eq!(per_bin, [100; 10]);
    for b in 1..10 {
        assert!(hi[b - 1] < lo[b]);
    }
}

#[test]
fn binning_refuses_nan() {
    let Err(err) = bin_feature(4, &[1.0, f64::NAN], 255) else {
        panic!("NaN was binned");
    };
    assert!(err.to_string().contains("feature 4"), "{err}");
}

#[test]
fn midpoint_stays_below_the_upper_value() {
    assert_eq!(midpoint(1.0, 2.0), 1.5);
    let next = f64::from_bits(1.0f64.to_bits() + 1);
    assert_eq!(midpoint(1.0, next), 1.0);
    assert_eq!(midpoint(f64::MAX, f64::INFINITY), f64::MAX);
}

#[test]
fn max_features_resolves_like_scikit_learn() {
    assert_eq!(MaxFeatures::Sqrt.resolve(20).unwrap(), 4);
    assert_eq!(MaxFeatures::Sqrt.resolve(16).unwrap(), 4);
    assert_eq!(MaxFeatures::Log2.resolve(20).unwrap(), 4);
    assert_eq!(MaxFeatures::Sqrt.resolve(1).unwrap(), 1);
    assert_eq!(MaxFeatures::Fraction(0.5).resolve(7).unwrap(), 3);
    assert_eq!(MaxFeatures::Fraction(0.01).resolve(7).unwrap(), 1);
    assert_eq!(MaxFeatures::All.resolve(7).unwrap(), 7);
    assert_eq!(MaxFeatures::Count(3).resolve(7).unwrap(), 3);
    for bad in [
        MaxFeatures::Count(8),
        MaxFeatures::Count(0),
        MaxFeatures::Fraction(0.0),
        MaxFeatures::Fraction(1.5),
        MaxFeatures::Fraction(f64::NAN),
    ] {
        match bad.resolve(7) {
            Err(FitError::Param { name, .. }) => assert_eq!(name, "max_features"),
            other => panic!("{bad:?}: {other:?}"),
        }
    }
}

/// A plain exhaustive CART (sorted scan of every feature at every node), built in the same
/// node order as `Grower`.
struct Cart<'a> {
    x: &'a Matrix,
    y: &'a [u32],
    gini: Gini,
    max_depth: usize,
    min_split: usize,
    min_leaf: usize,
    nodes: Vec<Node>,
    values: Vec<f64>,
}

impl Cart<'_> {
    fn grow(&mut self, node: usize, rows: Vec<usize>, depth: usize) {
        let o = &self.gini;
        let mut totals = o.new_totals();
        for &r in &rows {
            o.add_total(&mut totals, self.y[r], 1.0);
        }
        let n = rows.len();
        let mut best: Option<(f64, usize, f64)> = None;
        if depth < self.max_depth
            && n >= self.min_split
            && n >= 2 * self.min_leaf
            && !o.is_pure(&totals)
        {
            for f in 0..self.x.cols() {
                let column = &self.x.columns[f];
                let mut sorted = rows.clone();
                sorted.sort_by(|&a, &b| column[a].total_cmp(&column[b]));
                let mut left = o.new_totals();
                for i in 0..n - 1 {
                    o.add(&mut left, self.y[sorted[i]], 1.0);
                    let (a, b) = (column[sorted[i]], column[sorted[i + 1]]);
                    if a == b || i + 1 < self.min_leaf || n - i - 1 < self.min_leaf {
                        continue;
                    }
                    let right: Vec<f64> = totals.iter().zip(&left).map(|(t, l)| t - l).collect();
                    let proxy = o.proxy(&left, &right);
                    if best.is_none_or(|(p, _, _)| proxy > p) {
                        best = Some((proxy, f, midpoint(a, b)));
                    }
                }
            }
        }
        let Some((_, feature, threshold)) = best else {
            self.nodes[node] = Node {
                threshold: 0.0,
                feature: LEAF,
                child: (self.values.len() / o.n_classes) as u32,
            };
            o.leaf(&totals, &mut self.values);
            return;
        };
        let child = self.nodes.len();
        self.nodes[node] = Node {
            threshold,
            feature: feature as u32,
            child: child as u32,
        };
        self.nodes.extend([UNSET; 2]);
        let (left, right): (Vec<usize>, Vec<usize>) = rows
            .into_iter()
            .partition(|&r| self.x.columns[feature][r] <= threshold);
        self.grow(child, left, depth + 1);
        self.grow(child + 1, right, depth + 1);
    }
}

#[test]
fn one_tree_with_a_bin_per_value_is_plain_cart() {
    let mut rng = Rng::stream(42, 0);
    let rows = 150;
    // Few distinct values (many ties), a finer feature, and three classes with noise.
    let a: Vec<f64> = (0..rows).map(|_| rng.below(6) as f64).collect();
    let b: Vec<f64> = (0..rows)
        .map(|_| rng.below(40) as f64 * 0.25 - 3.0)
        .collect();
    let c: Vec<f64> = (0..rows).map(|_| rng.below(3) as f64).collect();
    let y: Vec<u32> = (0..rows)
        .map(|i| {
            let class = if a[i] + b[i] > 3.0 {
                2
            } else if c[i] == 1.0 {
                1
            } else {
                0
            };
            if rng.below(10) == 0 {
                rng.below(3) as u32
            } else {
                class
            }
        })
        .collect();
    let x = Matrix::new(vec![a, b, c]);
    for (max_depth, min_split, min_leaf) in [(None, 2, 1), (Some(3), 2, 1), (None, 10, 4)] {
        let params = crate::forest::ForestParams::single_tree(TreeParams {
            max_depth,
            min_samples_split: min_split,
            min_samples_leaf: min_leaf,
            ..TreeParams::default()
        });
        let forest = crate::forest::ForestClassifier::fit(&x, &y, 3, &params, &|_| {}).unwrap();
        let mut cart = Cart {
            x: &x,
            y: &y,
            gini: Gini { n_classes: 3 },
            max_depth: max_depth.unwrap_or(usize::MAX),
            min_split,
            min_leaf,
            nodes: vec![UNSET],
            values: Vec::new(),
        };
        cart.grow(0, (0..rows).collect(), 0);
        let expected = Tree {
            nodes: cart.nodes,
            values: cart.values,
            width: 3,
        };
        assert!(expected.n_leaves() > 4, "the reference tree should split");
        assert_eq!(
            forest.trees()[0],
            expected,
            "{max_depth:?} {min_split} {min_leaf}"
        );
    }
}

#[test]
fn a_tree_that_could_loop_is_refused() {
    let repr = TreeRepr {
        nodes: vec![
            Node {
                threshold: 0.0,
                feature: 0,
                child: 0,
            },
            Node {
                threshold: 0.0,
                feature: LEAF,
                child: 0,
            },
        ],
        values: vec![1.0],
        width: 1,
    };
    assert!(Tree::try_from(repr).is_err());
}
