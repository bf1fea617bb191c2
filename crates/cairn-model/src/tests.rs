//! What every model of `linear`, `knn` and `naive_bayes` shares: postcard round trips that give
//! the same bytes on a refit, params read from partial JSON, and the input rules of
//! [`crate::guard`] (bad params name the param; bad data is a data error, never a panic).

use serde::Serialize;

use crate::knn::{KnnClassifier, KnnDistance, KnnParams, KnnRegressor, KnnWeights};
use crate::linear::{
    LinearParams, LinearRegression, LogisticParams, LogisticRegression, RidgeParams,
    RidgeRegression, RidgeSolver,
};
use crate::naive_bayes::{GaussianNb, GaussianNbParams};
use crate::test_util::{
    LIN_X, LIN_Y, LOGIT_X, LOGIT_Y, MULTI_X, MULTI_Y, data_message, knn_params, matrix, param_name,
};
use crate::{FitError, Matrix};

fn round_trip<T: Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug>(
    model: &T,
    refit: &T,
) -> T {
    let bytes = postcard::to_stdvec(model).unwrap();
    assert_eq!(
        bytes,
        postcard::to_stdvec(refit).unwrap(),
        "refit bytes differ"
    );
    let back: T = postcard::from_bytes(&bytes).unwrap();
    assert_eq!(&back, model);
    back
}

#[test]
fn postcard_round_trip_and_refit_give_identical_bytes_and_predictions() {
    let check_proba = |a: &dyn Fn(&[f64], &mut [f64]),
                       b: &dyn Fn(&[f64], &mut [f64]),
                       rows: &[Vec<f64>],
                       n: usize| {
        for row in rows {
            let (mut pa, mut pb) = (vec![0.0; n], vec![0.0; n]);
            a(row, &mut pa);
            b(row, &mut pb);
            assert_eq!(pa, pb);
        }
    };

    let x = matrix(&MULTI_X);
    let rows: Vec<Vec<f64>> = (0..x.rows).map(|i| x.row(i)).collect();
    let p = LogisticParams { alpha: 0.5 };
    let fit = || LogisticRegression::fit(&x, &MULTI_Y, 3, &p).unwrap();
    let (model, back) = (fit(), round_trip(&fit(), &fit()));
    check_proba(
        &|r, o| model.predict_proba_into(r, o),
        &|r, o| back.predict_proba_into(r, o),
        &rows,
        3,
    );

    let fit = || GaussianNb::fit(&x, &MULTI_Y, 3, &GaussianNbParams::default()).unwrap();
    let (model, back) = (fit(), round_trip(&fit(), &fit()));
    check_proba(
        &|r, o| model.predict_proba_into(r, o),
        &|r, o| back.predict_proba_into(r, o),
        &rows,
        3,
    );

    let p = knn_params(5, KnnWeights::Distance, KnnDistance::Euclidean);
    let fit = || KnnClassifier::fit(&x, &MULTI_Y, 3, &p).unwrap();
    let (model, back) = (fit(), round_trip(&fit(), &fit()));
    check_proba(
        &|r, o| model.predict_proba_into(r, o),
        &|r, o| back.predict_proba_into(r, o),
        &rows,
        3,
    );

    let x = matrix(&LIN_X);
    let rows: Vec<Vec<f64>> = (0..x.rows).map(|i| x.row(i)).collect();
    let fit = || LinearRegression::fit(&x, &LIN_Y, &LinearParams::default()).unwrap();
    let (model, back) = (fit(), round_trip(&fit(), &fit()));
    assert!(rows.iter().all(|r| model.predict(r) == back.predict(r)));
    let fit = || RidgeRegression::fit(&x, &LIN_Y, &RidgeParams::default()).unwrap();
    let (model, back) = (fit(), round_trip(&fit(), &fit()));
    assert!(rows.iter().all(|r| model.predict(r) == back.predict(r)));
    let fit = || KnnRegressor::fit(&x, &LIN_Y, &KnnParams::default()).unwrap();
    let (model, back) = (fit(), round_trip(&fit(), &fit()));
    assert!(rows.iter().all(|r| model.predict(r) == back.predict(r)));
}

#[test]
fn params_deserialize_from_partial_json_with_defaults() {
    let p: KnnParams = serde_json::from_str(r#"{"k": 7, "weights": "distance"}"#).unwrap();
    assert_eq!(
        p,
        knn_params(7, KnnWeights::Distance, KnnDistance::Euclidean)
    );
    let p: RidgeParams = serde_json::from_str(r#"{"solver": "svd"}"#).unwrap();
    assert_eq!(p.alpha, 1.0);
    assert!(serde_json::from_str::<LogisticParams>(r#"{"C": 1}"#).is_err());
}

#[test]
fn bad_params_name_the_param() {
    let x = matrix(&LOGIT_X);
    for alpha in [-1.0, f64::NAN, f64::INFINITY] {
        let e = LogisticRegression::fit(&x, &LOGIT_Y, 2, &LogisticParams { alpha });
        assert_eq!(param_name(e.unwrap_err()), "alpha");
        let p = RidgeParams {
            alpha,
            ..RidgeParams::default()
        };
        let e = RidgeRegression::fit(&x, &[0.0; 20], &p);
        assert_eq!(param_name(e.unwrap_err()), "alpha");
        let p = GaussianNbParams {
            var_smoothing: alpha,
        };
        let e = GaussianNb::fit(&x, &LOGIT_Y, 2, &p);
        assert_eq!(param_name(e.unwrap_err()), "var_smoothing");
    }
    for k in [0, 21, 1000] {
        let p = KnnParams {
            k,
            ..KnnParams::default()
        };
        let e = KnnClassifier::fit(&x, &LOGIT_Y, 2, &p).unwrap_err();
        assert_eq!(param_name(e), "k");
        let e = KnnRegressor::fit(&x, &[0.0; 20], &p).unwrap_err();
        assert_eq!(param_name(e), "k");
    }
    let p = KnnParams {
        k: 20,
        ..KnnParams::default()
    };
    assert!(KnnClassifier::fit(&x, &LOGIT_Y, 2, &p).is_ok());
}

#[test]
fn bad_data_is_a_data_error_not_a_panic() {
    let x = matrix(&LOGIT_X);
    let y = LOGIT_Y;
    let reg_y = [1.0; 20];
    type Fit<'a> = Box<dyn Fn(&Matrix, &[u32], &[f64], usize) -> Result<(), FitError> + 'a>;
    let fits: Vec<(&str, Fit)> = vec![
        (
            "logistic",
            Box::new(|x, y, _, n| {
                LogisticRegression::fit(x, y, n, &LogisticParams::default()).map(drop)
            }),
        ),
        (
            "knn",
            Box::new(|x, y, _, n| {
                let p = KnnParams {
                    k: 1,
                    ..KnnParams::default()
                };
                KnnClassifier::fit(x, y, n, &p).map(drop)
            }),
        ),
        (
            "nb",
            Box::new(|x, y, _, n| GaussianNb::fit(x, y, n, &GaussianNbParams::default()).map(drop)),
        ),
        (
            "linear",
            Box::new(|x, _, t, _| LinearRegression::fit(x, t, &LinearParams::default()).map(drop)),
        ),
        (
            "ridge",
            Box::new(|x, _, t, _| RidgeRegression::fit(x, t, &RidgeParams::default()).map(drop)),
        ),
        (
            "knn regressor",
            Box::new(|x, _, t, _| {
                let p = KnnParams {
                    k: 1,
                    ..KnnParams::default()
                };
                KnnRegressor::fit(x, t, &p).map(drop)
            }),
        ),
    ];
    let mut nan = x.clone();
    nan.columns[1][7] = f64::NAN;
    let mut ragged = x.clone();
    ragged.columns[1].pop();
    let no_columns = Matrix {
        columns: vec![],
        rows: 20,
    };
    let mut bad_target = reg_y;
    bad_target[3] = f64::INFINITY;
    let classifier_only = ["logistic", "knn", "nb"];
    /// A name, the features, class labels, regression targets and the number of classes.
    type Case = (&'static str, Matrix, Vec<u32>, Vec<f64>, usize);
    for (name, fit) in &fits {
        let cases: [Case; 5] = [
            (
                "no rows",
                Matrix::new(vec![vec![], vec![]]),
                vec![],
                vec![],
                2,
            ),
            (
                "no columns",
                no_columns.clone(),
                y.to_vec(),
                reg_y.to_vec(),
                2,
            ),
            ("NaN", nan.clone(), y.to_vec(), reg_y.to_vec(), 2),
            ("ragged", ragged.clone(), y.to_vec(), reg_y.to_vec(), 2),
            (
                "short target",
                x.clone(),
                y[..19].to_vec(),
                reg_y[..19].to_vec(),
                2,
            ),
        ];
        for (case, x, y, t, n) in cases {
            let e = fit(&x, &y, &t, n).unwrap_err();
            assert!(matches!(e, FitError::Data(_)), "{name} / {case}: {e:?}");
        }
        if classifier_only.contains(name) {
            let one_class = [1u32; 20];
            let message = data_message(fit(&x, &one_class, &reg_y, 2).unwrap_err());
            assert!(message.contains("two classes"), "{name}: {message}");
            let message = data_message(fit(&x, &y, &reg_y, 1).unwrap_err());
            assert!(message.contains("out of range"), "{name}: {message}");
        } else {
            let e = fit(&x, &y, &bad_target, 2).unwrap_err();
            assert!(matches!(e, FitError::Data(_)), "{name}: {e:?}");
        }
    }
    // Values too large for smartcore's solvers (its SVD would panic).
    let mut huge = x.clone();
    huge.columns[0][2] = 3e150;
    let message =
        data_message(LinearRegression::fit(&huge, &reg_y, &LinearParams::default()).unwrap_err());
    assert!(message.contains("feature column 0"), "{message}");
    let e = RidgeRegression::fit(&x, &[-2e200; 20], &RidgeParams::default()).unwrap_err();
    assert!(data_message(e).contains("target"));
    let e = LogisticRegression::fit(&huge, &y, 2, &LogisticParams::default()).unwrap_err();
    assert!(matches!(e, FitError::Data(_)));
    // k-NN has no such limit: distances that overflow to infinity still give neighbours.
    let p = knn_params(3, KnnWeights::Distance, KnnDistance::Euclidean);
    let mut far = x.clone();
    far.columns[0].iter_mut().for_each(|v| *v *= 1e307);
    let model = KnnClassifier::fit(&far, &y, 2, &p).unwrap();
    let mut out = [0.0; 2];
    model.predict_proba_into(&[-1.7e308, 1.7e308], &mut out);
    assert!(out.iter().all(|p| p.is_finite()) && (out[0] + out[1] - 1.0).abs() < 1e-12);
    // Too few rows for the linear models.
    let small = x.take(&[0, 1]);
    let e = LinearRegression::fit(&small, &[1.0, 2.0], &LinearParams::default());
    assert!(data_message(e.unwrap_err()).contains("at least 3 rows"));
    let e = RidgeRegression::fit(&small, &[1.0, 2.0], &RidgeParams::default());
    assert!(data_message(e.unwrap_err()).contains("more rows than features"));
    // Ridge with alpha = 0 on a constant feature: singular for Cholesky.
    let mut constant = matrix(&LIN_X);
    constant.columns.push(vec![1.0; 12]);
    let p = RidgeParams {
        alpha: 0.0,
        solver: RidgeSolver::Cholesky,
    };
    let e = RidgeRegression::fit(&constant, &LIN_Y, &p).unwrap_err();
    assert!(matches!(e, FitError::Data(_)), "{e:?}");
}
