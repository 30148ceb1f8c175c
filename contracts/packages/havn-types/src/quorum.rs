//! Quorum arithmetic and the verdict rules, shared by the execution log (which enforces them), the
//! router (which decides when it has gathered enough attestations to submit) and the economic
//! simulator. docs/verification.md explains them.

use cosmwasm_std::Uint128;

use crate::attestation::{Check, Verdict};
use crate::split::BPS_TOTAL;

/// Whether `signed` stake out of `total` active stake reaches `quorum_bps`:
/// `signed / total ≥ quorum_bps / 10000`, computed exactly (256-bit products, no rounding).
/// No stake at all is never a quorum.
pub fn quorum_reached(signed: Uint128, total: Uint128, quorum_bps: u16) -> bool {
    !total.is_zero() && signed.full_mul(BPS_TOTAL) >= total.full_mul(quorum_bps)
}

/// What a job's votes decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// A quorum of Invalid votes (any check): the result is proven invalid.
    Invalid,
    /// Disputed (some vote is Invalid, or was), and a quorum of re-executed Valid upholds it.
    Upheld,
    /// Some vote is Invalid but nothing decides yet: only re-executions can now.
    Disputed,
    /// No dissent and a Valid quorum; `reexecuted`: a quorum of re-executed Valid alone.
    Valid { reexecuted: bool },
    /// No dissent and no quorum yet.
    Undecided,
}

/// One validator's counted vote: its verdict, what it checked, its stake.
pub type Ballot = (Verdict, Check, Uint128);

/// The rules: a quorum of Invalid proves the result invalid; otherwise any Invalid vote (or a
/// dispute already open) leaves the decision to re-executed votes only; otherwise a Valid quorum
/// carries it. A quorum is `quorum_bps` of `total` stake and at least `min_signers` votes.
pub fn decide(
    ballots: &[Ballot],
    total: Uint128,
    quorum_bps: u16,
    min_signers: u32,
    disputed: bool,
) -> Decision {
    let quorum = |keep: &dyn Fn(&Ballot) -> bool| {
        let (signed, count) = ballots
            .iter()
            .filter(|b| keep(b))
            .fold((Uint128::zero(), 0usize), |(s, n), b| (s + b.2, n + 1));
        quorum_reached(signed, total, quorum_bps) && count >= min_signers as usize
    };
    let reexecuted_valid = || quorum(&|b| b.0 == Verdict::Valid && b.1.reexecuted());
    if quorum(&|b| b.0 == Verdict::Invalid) {
        return Decision::Invalid;
    }
    if disputed || ballots.iter().any(|b| b.0 == Verdict::Invalid) {
        return match reexecuted_valid() {
            true => Decision::Upheld,
            false => Decision::Disputed,
        };
    }
    if reexecuted_valid() {
        Decision::Valid { reexecuted: true }
    } else if quorum(&|b| b.0 == Verdict::Valid) {
        Decision::Valid { reexecuted: false }
    } else {
        Decision::Undecided
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ballot() -> impl Strategy<Value = Ballot> {
        (any::<bool>(), proptest::option::of(0u8..6), 1u128..1_000).prop_map(
            |(valid, rung, stake)| {
                let verdict = if valid {
                    Verdict::Valid
                } else {
                    Verdict::Invalid
                };
                let check = rung.map_or(Check::Structural, |rung| Check::Reexecuted { rung });
                (verdict, check, Uint128::new(stake))
            },
        )
    }

    #[test]
    fn one_dissent_stops_a_structural_quorum() {
        let (s, r) = (Check::Structural, Check::Reexecuted { rung: 1 });
        let one = Uint128::one();
        let valid = |c| (Verdict::Valid, c, one);
        let invalid = |c| (Verdict::Invalid, c, one);
        let d = |b: &[Ballot]| decide(b, Uint128::new(4), 6_667, 2, false);
        assert_eq!(
            d(&[valid(s), valid(s), valid(s)]),
            Decision::Valid { reexecuted: false }
        );
        assert_eq!(
            d(&[valid(s), valid(s), valid(s), invalid(r)]),
            Decision::Disputed
        );
        assert_eq!(
            d(&[valid(r), valid(r), valid(r), invalid(r)]),
            Decision::Upheld
        );
        assert_eq!(
            d(&[valid(s), invalid(r), invalid(r), invalid(r)]),
            Decision::Invalid
        );
        assert_eq!(
            d(&[valid(r), valid(r), valid(r)]),
            Decision::Valid { reexecuted: true }
        );
        assert_eq!(d(&[valid(s), valid(s)]), Decision::Undecided);
        assert_eq!(
            decide(
                &[valid(s), valid(s), valid(s)],
                Uint128::new(4),
                6_667,
                2,
                true
            ),
            Decision::Disputed,
            "an open dispute ignores structural votes"
        );
    }

    proptest! {
        /// Valid is reached only without dissent; Upheld only by re-executions; Invalid only by
        /// an Invalid quorum; and no two disjoint quorums exist (so no set is both).
        #[test]
        fn the_rules_hold(ballots in proptest::collection::vec(ballot(), 0..8), disputed in any::<bool>()) {
            let total: Uint128 = ballots.iter().map(|b| b.2).sum::<Uint128>() + Uint128::one();
            let dissent = ballots.iter().any(|b| b.0 == Verdict::Invalid);
            match decide(&ballots, total, 6_667, 2, disputed) {
                Decision::Valid { .. } | Decision::Undecided => prop_assert!(!dissent && !disputed),
                Decision::Disputed => prop_assert!(dissent || disputed),
                Decision::Upheld => {
                    let stake: Uint128 = ballots.iter().filter(|b| b.0 == Verdict::Valid && b.1.reexecuted()).map(|b| b.2).sum();
                    prop_assert!(quorum_reached(stake, total, 6_667));
                }
                Decision::Invalid => {
                    let stake: Uint128 = ballots.iter().filter(|b| b.0 == Verdict::Invalid).map(|b| b.2).sum();
                    prop_assert!(quorum_reached(stake, total, 6_667));
                }
            }
        }
    }

    #[test]
    fn two_thirds_of_three() {
        let q = |s| quorum_reached(Uint128::new(s), Uint128::new(3), 6_667);
        // 2/3 = 6666.67 bps: just short of 6667.
        assert!(!q(2));
        assert!(q(3));
        assert!(!quorum_reached(Uint128::zero(), Uint128::zero(), 0));
    }

    proptest! {
        /// The smallest signed stake that reaches the quorum is ceil(total × bps / 10000):
        /// exactly that passes, one unit less fails.
        #[test]
        fn threshold_is_exact(total in 1u128..=u128::MAX / 10_000, bps in 1u16..=10_000) {
            let needed = (total * u128::from(bps)).div_ceil(10_000);
            prop_assert!(quorum_reached(Uint128::new(needed), Uint128::new(total), bps));
            prop_assert!(!quorum_reached(Uint128::new(needed - 1), Uint128::new(total), bps));
        }

        #[test]
        fn never_panics_on_huge_stakes(signed in any::<u128>(), total in any::<u128>(), bps in 0u16..=10_000) {
            let reached = quorum_reached(Uint128::new(signed), Uint128::new(total), bps);
            if total > 0 && signed >= total {
                prop_assert!(reached);
            }
        }
    }
}
