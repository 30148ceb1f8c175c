//! Quorum arithmetic, shared by the execution log (which enforces it) and the mesh (which decides
//! when it has gathered enough attestations to submit).

use cosmwasm_std::Uint128;

use crate::split::BPS_TOTAL;

/// Whether `signed` stake out of `total` active stake reaches `quorum_bps`:
/// `signed / total ≥ quorum_bps / 10000`, computed exactly (256-bit products, no rounding).
/// No stake at all is never a quorum.
pub fn quorum_reached(signed: Uint128, total: Uint128, quorum_bps: u16) -> bool {
    !total.is_zero() && signed.full_mul(BPS_TOTAL) >= total.full_mul(quorum_bps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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
