//! The panic guard. The input rules of every model are tested in `crate::tests`.

use super::*;

#[test]
fn a_panic_inside_a_guarded_fit_is_known_to_be_caught() {
    assert!(!panic_is_caught());
    let result: Result<(), FitError> = guarded("a fit", || {
        assert!(panic_is_caught());
        panic!("smartcore gave up")
    });
    match result {
        Err(FitError::Data(message)) => assert!(message.contains("smartcore gave up")),
        other => panic!("expected a data error, got {other:?}"),
    }
    assert!(!panic_is_caught(), "outside the guard again");
}
