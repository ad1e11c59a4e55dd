//! Properties of the oracle's metrics: what each must be for identical inputs, symmetric or
//! invariant transformations, and orderings the statistics promise.

use proptest::prelude::*;
use realizar_oracle::metrics::{compare_logits, cosine_min, max_abs, nmse, rel_l2, top_k, Stats};

fn logits(rows: usize, vocab: usize) -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(-20.0f64..20.0, rows * vocab)
}

proptest! {
    #[test]
    fn identical_inputs_compare_perfectly(x in logits(3, 17)) {
        let c = compare_logits(&x, &x, 17);
        prop_assert_eq!(c.max_abs, 0.0);
        prop_assert_eq!(c.rel_l2, 0.0);
        prop_assert!(c.kl.max.abs() < 1e-12);
        prop_assert_eq!(c.same_top, 1.0);
        prop_assert_eq!(c.top10_overlap, 1.0);
        prop_assert!(c.rms_delta_p < 1e-12);
        prop_assert!((c.cosine_min - 1.0).abs() < 1e-12 || x.iter().all(|v| *v == 0.0));
    }

    #[test]
    fn kl_ignores_a_constant_shift_and_is_never_negative(
        x in logits(2, 11), y in logits(2, 11), shift in -50.0f64..50.0
    ) {
        let shifted: Vec<f64> = y.iter().map(|v| v + shift).collect();
        let a = compare_logits(&x, &y, 11);
        let b = compare_logits(&x, &shifted, 11);
        prop_assert!(a.kl.min >= 0.0);
        prop_assert!((a.kl.mean - b.kl.mean).abs() < 1e-9 * (1.0 + a.kl.mean));
        prop_assert_eq!(a.same_top, b.same_top);
    }

    #[test]
    fn max_abs_is_symmetric_and_relative_error_scale_free(
        x in prop::collection::vec(-5.0f64..5.0, 1..64), d in prop::collection::vec(-1.0f64..1.0, 64),
        scale in 0.01f64..100.0
    ) {
        let y: Vec<f64> = x.iter().zip(&d).map(|(a, b)| a + b).collect();
        prop_assert_eq!(max_abs(&x, &y), max_abs(&y, &x));
        let (xs, ys): (Vec<f64>, Vec<f64>) = x.iter().zip(&y).map(|(a, b)| (a * scale, b * scale)).unzip();
        let (r1, r2) = (rel_l2(&x, &y), rel_l2(&xs, &ys));
        prop_assert!(r1.is_infinite() && r2.is_infinite() || (r1 - r2).abs() <= 1e-9 * (1.0 + r1));
        prop_assert!((nmse(&x, &y) - r1 * r1).abs() <= 1e-9 * (1.0 + r1 * r1) || r1.is_infinite());
    }

    #[test]
    fn cosine_of_a_positive_multiple_is_one(x in prop::collection::vec(0.1f64..5.0, 8), c in 0.1f64..10.0) {
        let y: Vec<f64> = x.iter().map(|v| v * c).collect();
        prop_assert!((cosine_min(&x, &y, 4) - 1.0).abs() < 1e-12);
        let neg: Vec<f64> = x.iter().map(|v| -v).collect();
        prop_assert!((cosine_min(&x, &neg, 4) + 1.0).abs() < 1e-12);
    }

    #[test]
    fn stats_are_ordered(v in prop::collection::vec(-1e3f64..1e3, 1..200)) {
        let s = Stats::of(&v);
        let chain = [s.min, s.p1, s.p10, s.median, s.p90, s.p99, s.p99_9, s.max];
        prop_assert!(chain.windows(2).all(|w| w[0] <= w[1] + 1e-9), "{:?}", chain);
        prop_assert!(s.min <= s.mean + 1e-9 && s.mean <= s.max + 1e-9);
        prop_assert!(s.stderr >= 0.0);
    }

    #[test]
    fn top_k_holds_the_k_largest(x in prop::collection::vec(-10.0f64..10.0, 1..50), k in 1usize..10) {
        let t = top_k(&x, k);
        prop_assert_eq!(t.len(), k.min(x.len()));
        let worst_kept = t.iter().map(|&i| x[i]).fold(f64::INFINITY, f64::min);
        for (i, &v) in x.iter().enumerate() {
            if !t.contains(&i) {
                prop_assert!(v <= worst_kept);
            }
        }
    }
}

/// An engine that produces NaN (or infinity) never agrees: every bound on max abs, relative L2,
/// cosine or KL fails, because NaN compares false with any threshold.
#[test]
fn a_nan_or_infinite_output_fails_every_metric() {
    let reference = vec![1.0, -2.0, 0.5, 3.0, 0.25, -1.0];
    // `partial_cmp` is None against NaN: a bound `value <= threshold` is then false.
    let within = |v: f64, bound: f64| v.partial_cmp(&bound).is_some_and(|o| o.is_le());
    let at_least = |v: f64, bound: f64| v.partial_cmp(&bound).is_some_and(|o| o.is_ge());
    for bad in [f64::NAN, f64::INFINITY] {
        let mut test = reference.clone();
        test[4] = bad;
        assert!(!within(max_abs(&reference, &test), 1.0), "{bad}");
        assert!(!at_least(cosine_min(&reference, &test, 3), 0.0), "{bad}");
        let c = compare_logits(&reference, &test, 3);
        assert!(
            !within(c.max_abs, 1.0) && !within(c.rel_l2, 1.0),
            "{bad}: {c:?}"
        );
        assert!(
            !at_least(c.cosine_min, 0.0) && !within(c.kl.mean, 1.0),
            "{bad}: {c:?}"
        );
        assert_eq!(
            c.same_top, 0.5,
            "{bad}: the row with it does not count as agreeing"
        );
    }
}
