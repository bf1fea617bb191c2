//! The logistic regression solver: Newton's method with a backtracking line search.
//!
//! The objective is the summed log loss plus `alpha / 2 · ||w||²` (intercepts unpenalised), a
//! smooth convex function of the parameters `θ`: per linear function (one for two classes, one
//! per class for more), `n_features` weights then the intercept. Each iteration:
//!
//! 1. computes the gradient `g` and the curvature at `θ` in one pass over the rows;
//! 2. stops if `max |g| / rows ≤` [`TOLERANCE`] (the mean-loss gradient, scikit-learn's `tol`
//!    convention, 10,000 times tighter than its default);
//! 3. solves `H s = -g` for the Newton direction: with at most [`DIRECT_MAX`] parameters, `H`
//!    is built and factorised (Cholesky, on the Jacobi-scaled matrix, damped if it is singular);
//!    with more, conjugate gradients (Jacobi-preconditioned) run on Hessian-vector products,
//!    each costing two passes of `rows × parameters` (hundreds of one-hot columns, many
//!    classes), until the residual is below `min(0.5, sqrt(max |g| / rows))` of the gradient
//!    (loose far from the optimum, tight near it) or at most 500 steps;
//! 4. halves the step from 1 until the objective falls enough (Armijo); the scores `X s` are
//!    computed once, so a trial step costs no pass over the features.
//!
//! It stops after [`MAX_ITERATIONS`] iterations, or when no step decreases the objective
//! (rounding: the gradient is then as small as the arithmetic allows). Newton's method needs
//! no feature scaling and converges in a handful of iterations.
//!
//! With more than two classes the softmax model is unchanged when the same vector is added to
//! every function's parameters; the intercepts (and, with `alpha = 0`, the weights) then have a
//! flat direction. The solver keeps the sum over classes of each such parameter at 0 (where it
//! starts): the flat directions are added to the Hessian (`c · u uᵀ`), which makes it
//! invertible without changing the Newton step (the gradient is orthogonal to them), and what a
//! truncated solve leaves along them is removed from the step. scikit-learn's solution has the
//! same sums.
//!
//! Every pass splits the rows into at most [`MAX_CHUNKS`] chunks whose boundaries depend only
//! on the number of rows; chunks run in parallel (rayon) and their partial sums are added in
//! chunk order, so the result is the same, bit for bit, at any number of threads.

use rayon::prelude::*;

use crate::Matrix;

/// The most Newton iterations.
pub(crate) const MAX_ITERATIONS: usize = 100;
/// Converged when the largest gradient component divided by the number of rows is at most this.
pub(crate) const TOLERANCE: f64 = 1e-8;
/// With at most this many parameters (`(n_features + 1) ×` functions) the Hessian is built and
/// factorised; with more, the Newton system is solved by conjugate gradients.
pub(crate) const DIRECT_MAX: usize = 64;
/// The most conjugate-gradient steps per Newton iteration.
const MAX_CG_STEPS: usize = 500;
/// The rows are split into at most this many chunks (the unit of parallel work and of the
/// ordered reduction) ...
const MAX_CHUNKS: usize = 64;
/// ... of at least this many rows each.
const MIN_CHUNK_ROWS: usize = 1024;
/// Within a chunk, the Hessian is accumulated over blocks of this many rows (cache locality).
const BLOCK_ROWS: usize = 256;
/// The fraction of the predicted decrease a step must achieve (Armijo).
const ARMIJO: f64 = 1e-4;
/// The most step halvings before the line search gives up.
const MAX_HALVINGS: usize = 50;

/// How the Newton system is solved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    /// Build the Hessian, factorise it (Cholesky).
    Direct,
    /// Preconditioned conjugate gradients on Hessian-vector products.
    Iterative,
}

impl Method {
    /// The method for `parameters` unknowns.
    pub(crate) fn for_size(parameters: usize) -> Method {
        if parameters <= DIRECT_MAX {
            Method::Direct
        } else {
            Method::Iterative
        }
    }
}

/// Why the solver stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// The gradient fell within the solver's tolerance (`TOLERANCE`).
    Converged,
    /// No step decreased the objective any more: rounding limits the accuracy.
    Stalled,
    /// The solver's iteration limit (`MAX_ITERATIONS`) was reached.
    IterationLimit,
}

/// A fit to solve: features, the class slot of each row and the penalty.
pub(crate) struct Problem<'a> {
    pub(crate) x: &'a Matrix,
    /// Per row, the index of its class among the classes present, `0..n_present`.
    pub(crate) slots: &'a [u32],
    /// The number of classes present (at least two).
    pub(crate) n_present: usize,
    pub(crate) alpha: f64,
}

/// The solver's answer.
pub(crate) struct Solution {
    /// Per linear function, `n_features` weights then the intercept.
    pub(crate) theta: Vec<f64>,
    pub(crate) iterations: usize,
    pub(crate) stop: Stop,
    /// `max |gradient| / rows` at `theta`.
    pub(crate) gradient: f64,
}

/// The rows `start..start + len` and what the solver keeps about them.
struct Chunk {
    start: usize,
    len: usize,
    /// Scores at the current parameters, function-major: `z[f * len + i]`.
    z: Vec<f64>,
    /// Scores of the search direction, same layout.
    dz: Vec<f64>,
    /// The curvature at `z`: for two classes the weights `p (1 - p)`; for more, the class
    /// probabilities (function-major).
    curvature: Vec<f64>,
}

/// Per-chunk sums, added in chunk order.
struct Partial {
    gradient: Vec<f64>,
    /// The Hessian (row-major, `d × d`) or its diagonal (`d`).
    curvature: Vec<f64>,
}

/// The curvature a Newton step is solved with.
enum Curvature {
    /// The full Hessian, row-major, penalty and flat directions included.
    Matrix(Vec<f64>),
    /// Its diagonal (the preconditioner), and the weights of the flat directions.
    Operator { diagonal: Vec<f64>, flat: Vec<f64> },
}

struct Solver<'a> {
    problem: &'a Problem<'a>,
    /// Features.
    p: usize,
    /// Parameters per function (`p + 1`).
    cols: usize,
    /// Linear functions: 1 for two classes, `n_present` for more.
    functions: usize,
    /// Parameters (`functions × cols`).
    d: usize,
    rows: usize,
    chunks: Vec<Chunk>,
    /// The intercept's column of ones (as long as the longest chunk).
    ones: Vec<f64>,
    /// The features `j` whose parameters are flat when added to every function (multinomial
    /// only): the intercept, and every feature when `alpha = 0`.
    flat: Vec<usize>,
}

/// Minimises the objective for `problem` from the class-frequency intercepts.
pub(crate) fn solve(problem: &Problem, method: Method) -> Solution {
    let mut solver = Solver::new(problem);
    let mut theta = solver.start();
    solver.set_scores(&theta);
    let mut value = solver.data_loss(0.0) + solver.penalty(&theta, None);
    let mut stop = Stop::IterationLimit;
    let mut iterations = 0;
    let mut gradient_max;
    loop {
        let (gradient, curvature) = solver.derivatives(&theta, method);
        gradient_max = gradient.iter().fold(0.0f64, |m, g| m.max(g.abs())) / solver.rows as f64;
        if gradient_max <= TOLERANCE {
            stop = Stop::Converged;
            break;
        }
        if iterations == MAX_ITERATIONS {
            break;
        }
        iterations += 1;
        let mut step = match &curvature {
            Curvature::Matrix(h) => direct_step(h, &gradient),
            Curvature::Operator { diagonal, flat } => {
                solver.iterative_step(&gradient, diagonal, flat, gradient_max)
            }
        };
        solver.remove_flat(&mut step);
        let mut slope = dot(&gradient, &step);
        if slope.is_nan() || slope >= 0.0 {
            // Rounding spoiled the Newton direction: fall back to scaled steepest descent.
            step = steepest(&gradient, &curvature, solver.d);
            solver.remove_flat(&mut step);
            slope = dot(&gradient, &step);
            if slope.is_nan() || slope >= 0.0 {
                stop = Stop::Stalled;
                break;
            }
        }
        solver.set_direction(&step);
        let mut t = 1.0;
        let mut accepted = None;
        for _ in 0..MAX_HALVINGS {
            let trial = solver.data_loss(t) + solver.penalty(&theta, Some((t, &step)));
            if trial <= value + ARMIJO * t * slope {
                accepted = Some(trial);
                break;
            }
            t *= 0.5;
        }
        let Some(trial) = accepted else {
            stop = Stop::Stalled;
            break;
        };
        for (a, s) in theta.iter_mut().zip(&step) {
            *a += t * s;
        }
        solver.advance(t);
        value = trial;
    }
    Solution {
        theta,
        iterations,
        stop,
        gradient: gradient_max,
    }
}

impl<'a> Solver<'a> {
    fn new(problem: &'a Problem<'a>) -> Solver<'a> {
        let (p, rows) = (problem.x.cols(), problem.x.rows);
        let functions = if problem.n_present == 2 {
            1
        } else {
            problem.n_present
        };
        let cols = p + 1;
        let chunk_rows = rows.div_ceil(MAX_CHUNKS).max(MIN_CHUNK_ROWS);
        let chunks: Vec<Chunk> = (0..rows)
            .step_by(chunk_rows)
            .map(|start| {
                let len = chunk_rows.min(rows - start);
                let width = if functions == 1 { len } else { functions * len };
                Chunk {
                    start,
                    len,
                    z: vec![0.0; functions * len],
                    dz: vec![0.0; functions * len],
                    curvature: vec![0.0; width],
                }
            })
            .collect();
        let longest = chunks.iter().map(|c| c.len).max().unwrap_or(0);
        let flat = match functions {
            1 => Vec::new(),
            _ if problem.alpha == 0.0 => (0..cols).collect(),
            _ => vec![p],
        };
        Solver {
            problem,
            p,
            cols,
            functions,
            d: functions * cols,
            rows,
            chunks,
            ones: vec![1.0; longest],
            flat,
        }
    }

    /// Zero weights; the intercepts of the class frequencies (the optimum without features),
    /// summing to 0 over the classes when there are more than two.
    fn start(&self) -> Vec<f64> {
        let mut counts = vec![0usize; self.problem.n_present];
        for &s in self.problem.slots {
            counts[s as usize] += 1;
        }
        let log: Vec<f64> = counts.iter().map(|&c| (c.max(1) as f64).ln()).collect();
        let mut theta = vec![0.0; self.d];
        if self.functions == 1 {
            theta[self.p] = log[1] - log[0];
        } else {
            let mean = log.iter().sum::<f64>() / log.len() as f64;
            for (f, l) in log.iter().enumerate() {
                theta[f * self.cols + self.p] = l - mean;
            }
        }
        theta
    }

    /// Column `j` (`p` is the intercept's ones) over the rows `start..start + len`.
    fn column(&self, j: usize, start: usize, len: usize) -> &[f64] {
        if j < self.p {
            &self.problem.x.columns[j][start..start + len]
        } else {
            &self.ones[..len]
        }
    }

    /// `out[f * len + i] = θ_f · x̃_i` for the chunk's rows.
    ///
    /// The features are added in their order, four at a time (one read and write of the scores
    /// per four features; the same additions in the same order as one at a time).
    fn scores_into(&self, theta: &[f64], start: usize, len: usize, out: &mut [f64]) {
        for (f, z) in out.chunks_exact_mut(len).enumerate() {
            let params = &theta[f * self.cols..(f + 1) * self.cols];
            z.fill(params[self.p]);
            let weights = &params[..self.p];
            let mut j = 0;
            while j + 4 <= self.p {
                let w = &weights[j..j + 4];
                let (a, b) = (self.column(j, start, len), self.column(j + 1, start, len));
                let (c, d) = (
                    self.column(j + 2, start, len),
                    self.column(j + 3, start, len),
                );
                for ((((z, a), b), c), d) in z.iter_mut().zip(a).zip(b).zip(c).zip(d) {
                    *z = *z + w[0] * a + w[1] * b + w[2] * c + w[3] * d;
                }
                j += 4;
            }
            for (j, &w) in weights.iter().enumerate().skip(j) {
                for (z, x) in z.iter_mut().zip(self.column(j, start, len)) {
                    *z += w * x;
                }
            }
        }
    }

    fn set_scores(&mut self, theta: &[f64]) {
        let mut chunks = std::mem::take(&mut self.chunks);
        chunks
            .par_iter_mut()
            .for_each(|c| self.scores_into(theta, c.start, c.len, &mut c.z));
        self.chunks = chunks;
    }

    fn set_direction(&mut self, step: &[f64]) {
        let mut chunks = std::mem::take(&mut self.chunks);
        chunks
            .par_iter_mut()
            .for_each(|c| self.scores_into(step, c.start, c.len, &mut c.dz));
        self.chunks = chunks;
    }

    /// Removes the step's component along the flat directions (which a truncated solve leaves,
    /// and which changes no prediction), so that the sums over the classes stay 0.
    fn remove_flat(&self, step: &mut [f64]) {
        for &j in &self.flat {
            let mean = (0..self.functions)
                .map(|f| step[f * self.cols + j])
                .sum::<f64>()
                / self.functions as f64;
            for f in 0..self.functions {
                step[f * self.cols + j] -= mean;
            }
        }
    }

    /// Moves the scores `t` along the direction.
    fn advance(&mut self, t: f64) {
        self.chunks.par_iter_mut().for_each(|c| {
            for (z, dz) in c.z.iter_mut().zip(&c.dz) {
                *z += t * dz;
            }
        });
    }

    /// `alpha / 2 · ||w||²` at `theta` (plus `t · step`).
    fn penalty(&self, theta: &[f64], step: Option<(f64, &[f64])>) -> f64 {
        let mut sum = 0.0;
        for f in 0..self.functions {
            for j in 0..self.p {
                let k = f * self.cols + j;
                let w = theta[k] + step.map_or(0.0, |(t, s)| t * s[k]);
                sum += w * w;
            }
        }
        0.5 * self.problem.alpha * sum
    }

    /// The summed log loss at the scores `z + t · dz`.
    fn data_loss(&self, t: f64) -> f64 {
        let slots = self.problem.slots;
        let parts: Vec<f64> = self
            .chunks
            .par_iter()
            .map(|c| {
                let slots = &slots[c.start..c.start + c.len];
                let mut sum = 0.0;
                if self.functions == 1 {
                    for ((&z, &dz), &s) in c.z.iter().zip(&c.dz).zip(slots) {
                        let z = z + t * dz;
                        sum += softplus(if s == 1 { -z } else { z });
                    }
                } else {
                    let mut scores = vec![0.0; self.functions];
                    for (i, &s) in slots.iter().enumerate() {
                        for (f, v) in scores.iter_mut().enumerate() {
                            let k = f * c.len + i;
                            *v = c.z[k] + t * c.dz[k];
                        }
                        sum += log_sum_exp(&scores) - scores[s as usize];
                    }
                }
                sum
            })
            .collect();
        parts.iter().sum()
    }

    /// The gradient and the curvature at `theta` (whose scores the chunks hold).
    fn derivatives(&mut self, theta: &[f64], method: Method) -> (Vec<f64>, Curvature) {
        let mut chunks = std::mem::take(&mut self.chunks);
        let parts: Vec<Partial> = chunks
            .par_iter_mut()
            .map(|c| self.chunk_derivatives(c, method))
            .collect();
        self.chunks = chunks;
        let mut parts = parts.into_iter();
        let Some(mut total) = parts.next() else {
            return (
                vec![0.0; self.d],
                Curvature::Matrix(vec![0.0; self.d * self.d]),
            );
        };
        for part in parts {
            add(&mut total.gradient, &part.gradient);
            add(&mut total.curvature, &part.curvature);
        }
        let (alpha, d) = (self.problem.alpha, self.d);
        let mut gradient = total.gradient;
        let mut curvature = total.curvature;
        let diagonal_at = |k: usize| {
            if method == Method::Direct {
                k * d + k
            } else {
                k
            }
        };
        for f in 0..self.functions {
            for j in 0..self.p {
                let k = f * self.cols + j;
                gradient[k] += alpha * theta[k];
                curvature[diagonal_at(k)] += alpha;
            }
        }
        // The flat directions' weight: the mean curvature of their coordinates.
        let flat: Vec<f64> = self
            .flat
            .iter()
            .map(|&j| {
                let sum: f64 = (0..self.functions)
                    .map(|f| curvature[diagonal_at(f * self.cols + j)])
                    .sum();
                let c = sum / self.functions as f64;
                if c > 0.0 && c.is_finite() { c } else { 1.0 }
            })
            .collect();
        let curvature = match method {
            Method::Direct => {
                let mut h = curvature;
                self.symmetrise(&mut h);
                for (&j, &c) in self.flat.iter().zip(&flat) {
                    for f in 0..self.functions {
                        for g in 0..self.functions {
                            h[(f * self.cols + j) * d + g * self.cols + j] += c;
                        }
                    }
                }
                Curvature::Matrix(h)
            }
            Method::Iterative => {
                let mut diagonal = curvature;
                for (&j, &c) in self.flat.iter().zip(&flat) {
                    for f in 0..self.functions {
                        diagonal[f * self.cols + j] += c;
                    }
                }
                Curvature::Operator { diagonal, flat }
            }
        };
        (gradient, curvature)
    }

    /// One chunk's gradient and Hessian (or Hessian diagonal); stores its curvature weights.
    fn chunk_derivatives(&self, c: &mut Chunk, method: Method) -> Partial {
        let (len, fs) = (c.len, self.functions);
        let slots = &self.problem.slots[c.start..c.start + len];
        // Residuals (probability - indicator), function-major.
        let mut residual = vec![0.0; fs * len];
        if fs == 1 {
            for i in 0..len {
                let z = c.z[i];
                let e = (-z.abs()).exp();
                // p = P(slot 1), q = 1 - p, both without cancellation.
                let (p, q) = if z >= 0.0 {
                    (1.0 / (1.0 + e), e / (1.0 + e))
                } else {
                    (e / (1.0 + e), 1.0 / (1.0 + e))
                };
                residual[i] = if slots[i] == 1 { -q } else { p };
                c.curvature[i] = p * q;
            }
        } else {
            let mut scores = vec![0.0; fs];
            for i in 0..len {
                for (f, v) in scores.iter_mut().enumerate() {
                    *v = c.z[f * len + i];
                }
                let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let total: f64 = scores.iter().map(|s| (s - max).exp()).sum();
                for (f, s) in scores.iter().enumerate() {
                    let p = (s - max).exp() / total;
                    c.curvature[f * len + i] = p;
                    residual[f * len + i] = p - f64::from(u8::from(slots[i] as usize == f));
                }
            }
        }
        let mut gradient = vec![0.0; self.d];
        for f in 0..fs {
            let r = &residual[f * len..(f + 1) * len];
            for j in 0..self.cols {
                gradient[f * self.cols + j] = dot(r, self.column(j, c.start, len));
            }
        }
        let curvature = match method {
            Method::Direct => self.chunk_hessian(c),
            Method::Iterative => self.chunk_diagonal(c),
        };
        Partial {
            gradient,
            curvature,
        }
    }

    /// The weight of the pair of functions `(k, l)` for row `i` of the chunk: `p (1 - p)` for
    /// two classes; `P_k (δ_kl - P_l)` for more.
    fn pair_weights(&self, c: &Chunk, k: usize, l: usize, lo: usize, out: &mut [f64]) {
        let len = c.len;
        if self.functions == 1 {
            out.copy_from_slice(&c.curvature[lo..lo + out.len()]);
            return;
        }
        let pk = &c.curvature[k * len + lo..k * len + lo + out.len()];
        let pl = &c.curvature[l * len + lo..l * len + lo + out.len()];
        for ((o, &a), &b) in out.iter_mut().zip(pk).zip(pl) {
            *o = if k == l { a - a * b } else { -a * b };
        }
    }

    /// The chunk's Hessian entries `(k, j), (l, j')` for `k <= l`, `j' <= j` (the others are
    /// filled by [`Solver::symmetrise`]), over blocks of rows.
    fn chunk_hessian(&self, c: &Chunk) -> Vec<f64> {
        let (d, cols) = (self.d, self.cols);
        let mut h = vec![0.0; d * d];
        let mut weights = vec![0.0; BLOCK_ROWS];
        let mut weighted = vec![0.0; BLOCK_ROWS];
        for lo in (0..c.len).step_by(BLOCK_ROWS) {
            let n = BLOCK_ROWS.min(c.len - lo);
            let (weights, weighted) = (&mut weights[..n], &mut weighted[..n]);
            for k in 0..self.functions {
                for l in k..self.functions {
                    self.pair_weights(c, k, l, lo, weights);
                    for j in 0..cols {
                        let xj = &self.column(j, c.start, c.len)[lo..lo + n];
                        for ((t, w), x) in weighted.iter_mut().zip(weights.iter()).zip(xj) {
                            *t = w * x;
                        }
                        let row = (k * cols + j) * d + l * cols;
                        for jj in 0..=j {
                            let xjj = &self.column(jj, c.start, c.len)[lo..lo + n];
                            h[row + jj] += dot(weighted, xjj);
                        }
                    }
                }
            }
        }
        h
    }

    /// Fills the Hessian from the entries [`Solver::chunk_hessian`] computes.
    fn symmetrise(&self, h: &mut [f64]) {
        let (d, cols) = (self.d, self.cols);
        for k in 0..self.functions {
            for l in k..self.functions {
                for j in 0..cols {
                    for jj in 0..=j {
                        let v = h[(k * cols + j) * d + l * cols + jj];
                        h[(l * cols + jj) * d + k * cols + j] = v;
                        h[(k * cols + jj) * d + l * cols + j] = v;
                        h[(l * cols + j) * d + k * cols + jj] = v;
                    }
                }
            }
        }
    }

    /// The chunk's Hessian diagonal.
    fn chunk_diagonal(&self, c: &Chunk) -> Vec<f64> {
        let mut diagonal = vec![0.0; self.d];
        let mut weights = vec![0.0; c.len];
        let mut weighted = vec![0.0; c.len];
        for f in 0..self.functions {
            self.pair_weights(c, f, f, 0, &mut weights);
            for j in 0..self.cols {
                let x = self.column(j, c.start, c.len);
                for ((t, w), x) in weighted.iter_mut().zip(&weights).zip(x) {
                    *t = w * x;
                }
                diagonal[f * self.cols + j] = dot(&weighted, x);
            }
        }
        diagonal
    }

    /// `H v`, penalty and flat directions included (the curvature stored by the last
    /// [`Solver::derivatives`]).
    fn hessian_times(&self, v: &[f64], flat: &[f64]) -> Vec<f64> {
        let parts: Vec<Vec<f64>> = self
            .chunks
            .par_iter()
            .map(|c| {
                // Block by block, so that the block's features are still in cache for the
                // second pass (the products with the weighted scores).
                let (len, fs) = (c.len, self.functions);
                let mut out = vec![0.0; self.d];
                let mut buffer = vec![0.0; fs * BLOCK_ROWS];
                for lo in (0..len).step_by(BLOCK_ROWS) {
                    let n = BLOCK_ROWS.min(len - lo);
                    let u = &mut buffer[..fs * n];
                    self.scores_into(v, c.start + lo, n, u);
                    if fs == 1 {
                        for (u, w) in u.iter_mut().zip(&c.curvature[lo..lo + n]) {
                            *u *= w;
                        }
                    } else {
                        for i in 0..n {
                            let probability = |f: usize| c.curvature[f * len + lo + i];
                            let mean: f64 = (0..fs).map(|f| probability(f) * u[f * n + i]).sum();
                            for f in 0..fs {
                                u[f * n + i] = probability(f) * (u[f * n + i] - mean);
                            }
                        }
                    }
                    for (f, uf) in u.chunks_exact(n).enumerate() {
                        for j in 0..self.cols {
                            out[f * self.cols + j] += dot(uf, self.column(j, c.start + lo, n));
                        }
                    }
                }
                out
            })
            .collect();
        let mut parts = parts.into_iter();
        let mut out = parts.next().unwrap_or_else(|| vec![0.0; self.d]);
        for part in parts {
            add(&mut out, &part);
        }
        for f in 0..self.functions {
            for j in 0..self.p {
                let k = f * self.cols + j;
                out[k] += self.problem.alpha * v[k];
            }
        }
        for (&j, &c) in self.flat.iter().zip(flat) {
            let sum: f64 = (0..self.functions).map(|f| v[f * self.cols + j]).sum();
            for f in 0..self.functions {
                out[f * self.cols + j] += c * sum;
            }
        }
        out
    }

    /// The Newton direction by preconditioned conjugate gradients (Jacobi), stopped when the
    /// residual is below `min(0.5, sqrt(gradient_max))` of the gradient (a truncated Newton
    /// step: loose far from the optimum, tight near it) or at negative curvature.
    fn iterative_step(
        &self,
        gradient: &[f64],
        diagonal: &[f64],
        flat: &[f64],
        gradient_max: f64,
    ) -> Vec<f64> {
        let inverse: Vec<f64> = diagonal
            .iter()
            .map(|&v| {
                if v > 0.0 && v.is_finite() {
                    1.0 / v
                } else {
                    1.0
                }
            })
            .collect();
        let target = 0.5f64.min(gradient_max.sqrt()) * norm(gradient);
        let mut x = vec![0.0; self.d];
        let mut r: Vec<f64> = gradient.iter().map(|g| -g).collect();
        let mut z: Vec<f64> = r.iter().zip(&inverse).map(|(r, m)| r * m).collect();
        let mut direction = z.clone();
        let mut rz = dot(&r, &z);
        for step in 0..MAX_CG_STEPS.min(self.d) {
            let hd = self.hessian_times(&direction, flat);
            let curvature = dot(&direction, &hd);
            if curvature.is_nan() || curvature <= 0.0 {
                if step == 0 {
                    return z;
                }
                break;
            }
            let a = rz / curvature;
            for ((x, r), (p, hp)) in x.iter_mut().zip(&mut r).zip(direction.iter().zip(&hd)) {
                *x += a * p;
                *r -= a * hp;
            }
            if norm(&r) <= target {
                break;
            }
            for ((z, r), m) in z.iter_mut().zip(&r).zip(&inverse) {
                *z = r * m;
            }
            let rz_next = dot(&r, &z);
            let beta = rz_next / rz;
            rz = rz_next;
            for (p, z) in direction.iter_mut().zip(&z) {
                *p = z + beta * *p;
            }
        }
        x
    }
}

/// `-g` scaled by the inverse curvature diagonal.
fn steepest(gradient: &[f64], curvature: &Curvature, d: usize) -> Vec<f64> {
    gradient
        .iter()
        .enumerate()
        .map(|(k, g)| {
            let c = match curvature {
                Curvature::Matrix(h) => h[k * d + k],
                Curvature::Operator { diagonal, .. } => diagonal[k],
            };
            if c > 0.0 && c.is_finite() { -g / c } else { -g }
        })
        .collect()
}

/// Solves `H s = -g` by Cholesky on the Jacobi-scaled `H`; if that is not numerically positive
/// definite, on `H + μ·diag(H)` for μ = 1e-10, 1e-8, ... (a damped Newton step).
fn direct_step(h: &[f64], gradient: &[f64]) -> Vec<f64> {
    let d = gradient.len();
    let scale: Vec<f64> = (0..d)
        .map(|i| {
            let v = h[i * d + i];
            if v > 0.0 && v.is_finite() {
                1.0 / v.sqrt()
            } else {
                1.0
            }
        })
        .collect();
    let b: Vec<f64> = gradient.iter().zip(&scale).map(|(g, s)| -g * s).collect();
    let mut damping = 0.0;
    while damping <= 1.0 {
        let mut a: Vec<f64> = (0..d * d)
            .map(|k| h[k] * scale[k / d] * scale[k % d])
            .collect();
        for i in 0..d {
            a[i * d + i] += damping;
        }
        if cholesky(&mut a, d) {
            let y = cholesky_solve(&a, d, &b);
            return y.iter().zip(&scale).map(|(y, s)| y * s).collect();
        }
        damping = if damping == 0.0 {
            1e-10
        } else {
            damping * 100.0
        };
    }
    b.iter().zip(&scale).map(|(b, s)| b * s).collect()
}

/// The smallest pivot a Cholesky factorisation of a unit-diagonal matrix accepts: below it the
/// matrix is treated as singular.
const MIN_PIVOT: f64 = 1e-12;

/// Factorises the symmetric `a` (row-major, `d × d`) in place into its lower Cholesky factor;
/// false if a pivot is below [`MIN_PIVOT`] (or not a number).
fn cholesky(a: &mut [f64], d: usize) -> bool {
    for j in 0..d {
        let pivot = a[j * d + j] - dot(&a[j * d..j * d + j], &a[j * d..j * d + j]);
        if pivot.is_nan() || pivot <= MIN_PIVOT {
            return false;
        }
        let pivot = pivot.sqrt();
        a[j * d + j] = pivot;
        for i in j + 1..d {
            let sum = dot(&a[i * d..i * d + j], &a[j * d..j * d + j]);
            a[i * d + j] = (a[i * d + j] - sum) / pivot;
        }
    }
    true
}

/// Solves `L Lᵀ x = b` with the factor from [`cholesky`].
fn cholesky_solve(l: &[f64], d: usize, b: &[f64]) -> Vec<f64> {
    let mut y = vec![0.0; d];
    for i in 0..d {
        y[i] = (b[i] - dot(&l[i * d..i * d + i], &y[..i])) / l[i * d + i];
    }
    let mut x = vec![0.0; d];
    for i in (0..d).rev() {
        let mut sum = y[i];
        for k in i + 1..d {
            sum -= l[k * d + i] * x[k];
        }
        x[i] = sum / l[i * d + i];
    }
    x
}

/// `ln(1 + e^z)` without overflow or loss of precision.
fn softplus(z: f64) -> f64 {
    z.max(0.0) + (-z.abs()).exp().ln_1p()
}

fn log_sum_exp(scores: &[f64]) -> f64 {
    let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    max + scores.iter().map(|s| (s - max).exp()).sum::<f64>().ln()
}

fn add(total: &mut [f64], part: &[f64]) {
    for (t, p) in total.iter_mut().zip(part) {
        *t += p;
    }
}

fn norm(v: &[f64]) -> f64 {
    dot(v, v).sqrt()
}

/// A dot product over eight running sums (so that it vectorises); the order of the additions
/// is fixed.
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut sums = [0.0f64; 8];
    let (a8, b8) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (a8.remainder(), b8.remainder());
    for (x, y) in a8.zip(b8) {
        for k in 0..8 {
            sums[k] += x[k] * y[k];
        }
    }
    let mut tail = 0.0;
    for (x, y) in ra.iter().zip(rb) {
        tail += x * y;
    }
    ((sums[0] + sums[4]) + (sums[1] + sums[5])) + ((sums[2] + sums[6]) + (sums[3] + sums[7])) + tail
}
