//! Basis-point fee splits. Integer math only: every part rounds down and the treasury takes the
//! remainder, so the parts of a fee always add up to exactly the fee.

use cosmwasm_schema::cw_serde;
use cosmwasm_std::Uint128;
use thiserror::Error;

/// 100 % in basis points.
pub const BPS_TOTAL: u32 = 10_000;

#[derive(Error, Debug, PartialEq, Eq)]
pub enum SplitError {
    #[error("split must add up to exactly 10000 bps (100%), but creator+upstream+node+validator+treasury = {total}")]
    NotWhole { total: u32 },

    #[error("royalty stack adds up to {stack} bps but the split gives upstream {upstream} bps")]
    StackMismatch { stack: u32, upstream: u32 },
}

/// How one run's fee is divided, in basis points of the fee.
#[cw_serde]
#[derive(Copy, Eq)]
pub struct Split {
    /// The workflow's creator (its current owner).
    pub creator: u16,
    /// The upstream pool, shared over the royalty stack (dependencies, recursively).
    pub upstream: u16,
    /// The node that ran the job.
    pub node: u16,
    /// The validators that attested the job.
    pub validator: u16,
    /// The protocol treasury (also receives every rounding remainder).
    pub treasury: u16,
}

impl Split {
    /// The governance default: 45 / 20 / 25 / 5 / 5 %.
    pub const DEFAULT: Split = Split {
        creator: 4500,
        upstream: 2000,
        node: 2500,
        validator: 500,
        treasury: 500,
    };

    pub fn total(&self) -> u32 {
        [
            self.creator,
            self.upstream,
            self.node,
            self.validator,
            self.treasury,
        ]
        .iter()
        .map(|&b| u32::from(b))
        .sum()
    }

    pub fn validate(&self) -> Result<(), SplitError> {
        match self.total() {
            BPS_TOTAL => Ok(()),
            total => Err(SplitError::NotWhole { total }),
        }
    }

    /// The same split with the upstream share given to the creator: what a workflow with no
    /// dependencies uses, since it has no upstream to pay.
    pub fn without_upstream(self) -> Split {
        Split {
            creator: self.creator + self.upstream,
            upstream: 0,
            ..self
        }
    }
}

/// One fee, divided. `upstream` follows the royalty stack's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeeShares<P> {
    pub creator: Uint128,
    pub upstream: Vec<(P, Uint128)>,
    pub node: Uint128,
    pub validator: Uint128,
    pub treasury: Uint128,
}

impl<P> FeeShares<P> {
    pub fn total(&self) -> Uint128 {
        self.upstream.iter().map(|(_, a)| *a).fold(
            self.creator + self.node + self.validator + self.treasury,
            |s, a| s + a,
        )
    }
}

/// Divides `fee` by `split`, paying the upstream pool over `stack` (payee, bps of the fee).
///
/// Each share is `floor(fee × bps / 10000)`; the treasury gets its own share plus whatever the
/// rounding left, so the shares always sum to `fee`. `stack` must add up to `split.upstream`.
pub fn apportion_fee<P: Clone>(
    fee: Uint128,
    split: &Split,
    stack: &[(P, u16)],
) -> Result<FeeShares<P>, SplitError> {
    split.validate()?;
    let stack_bps: u32 = stack.iter().map(|(_, b)| u32::from(*b)).sum();
    if stack_bps != u32::from(split.upstream) {
        return Err(SplitError::StackMismatch {
            stack: stack_bps,
            upstream: split.upstream.into(),
        });
    }
    // multiply_ratio widens to 256 bits, so no fee can overflow here.
    let part = |bps: u16| fee.multiply_ratio(bps, BPS_TOTAL);
    let creator = part(split.creator);
    let node = part(split.node);
    let validator = part(split.validator);
    let upstream: Vec<(P, Uint128)> = stack
        .iter()
        .map(|(p, bps)| (p.clone(), part(*bps)))
        .collect();
    let paid = upstream
        .iter()
        .fold(creator + node + validator, |s, (_, a)| s + *a);
    // Every part rounded down from a total of at most 10000 bps, so `paid <= fee`.
    let treasury = fee - paid;
    Ok(FeeShares {
        creator,
        upstream,
        node,
        validator,
        treasury,
    })
}

/// Divides `pool` among payees in proportion to `weights` (all 1s for equal shares). Each share
/// rounds down; the second value is what rounding left, which goes to the treasury. With no
/// weight at all (no payees, or all zero) the whole pool is left over.
pub fn divide_pool(pool: Uint128, weights: &[Uint128]) -> (Vec<Uint128>, Uint128) {
    let total: Uint128 = weights.iter().sum();
    if total.is_zero() {
        return (vec![Uint128::zero(); weights.len()], pool);
    }
    // multiply_ratio widens to 256 bits: no overflow for any u128 pool and weights.
    let shares: Vec<Uint128> = weights
        .iter()
        .map(|w| pool.multiply_ratio(*w, total))
        .collect();
    let paid: Uint128 = shares.iter().sum();
    (shares, pool - paid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn default_split_is_whole() {
        assert_eq!(Split::DEFAULT.validate(), Ok(()));
    }

    #[test]
    fn rejects_split_that_is_not_whole() {
        let split = Split {
            treasury: 499,
            ..Split::DEFAULT
        };
        assert_eq!(split.validate(), Err(SplitError::NotWhole { total: 9_999 }));
    }

    #[test]
    fn remainder_goes_to_treasury() {
        // 7 units at 45/20/25/5/5 %: creator 3, upstream 1, node 1, validator 0, treasury 0 + 2 left over.
        let shares = apportion_fee(Uint128::new(7), &Split::DEFAULT, &[("a", 2000)]).unwrap();
        assert_eq!(shares.creator, Uint128::new(3));
        assert_eq!(shares.upstream, vec![("a", Uint128::new(1))]);
        assert_eq!(shares.node, Uint128::new(1));
        assert_eq!(shares.validator, Uint128::zero());
        assert_eq!(shares.treasury, Uint128::new(2));
    }

    #[test]
    fn stack_must_match_upstream_share() {
        let err = apportion_fee(Uint128::new(100), &Split::DEFAULT, &[("a", 1000)]).unwrap_err();
        assert_eq!(
            err,
            SplitError::StackMismatch {
                stack: 1000,
                upstream: 2000
            }
        );
    }

    #[test]
    fn without_upstream_folds_into_creator() {
        let s = Split::DEFAULT.without_upstream();
        assert_eq!((s.creator, s.upstream), (6500, 0));
        assert_eq!(s.validate(), Ok(()));
    }

    #[test]
    fn pool_divides_by_weight_and_leaves_the_rounding() {
        let w = |v: &[u128]| v.iter().map(|&x| Uint128::new(x)).collect::<Vec<_>>();
        assert_eq!(
            divide_pool(Uint128::new(10), &w(&[1, 1, 1])),
            (w(&[3, 3, 3]), Uint128::new(1))
        );
        assert_eq!(
            divide_pool(Uint128::new(100), &w(&[3, 1])),
            (w(&[75, 25]), Uint128::zero())
        );
        assert_eq!(divide_pool(Uint128::new(7), &[]), (vec![], Uint128::new(7)));
        assert_eq!(
            divide_pool(Uint128::new(7), &w(&[0, 0])),
            (w(&[0, 0]), Uint128::new(7))
        );
    }

    /// A random whole split and a random stack over its upstream share.
    fn split_and_stack() -> impl Strategy<Value = (Split, Vec<(u8, u16)>)> {
        (
            proptest::collection::vec(0u16..=10_000, 4),
            proptest::collection::vec(1u16..=10_000, 0..12),
        )
            .prop_map(|(cuts, weights)| {
                let mut cuts: Vec<u16> = cuts;
                cuts.sort_unstable();
                let parts = [
                    cuts[0],
                    cuts[1] - cuts[0],
                    cuts[2] - cuts[1],
                    cuts[3] - cuts[2],
                    10_000 - cuts[3],
                ];
                let mut split = Split {
                    creator: parts[0],
                    upstream: parts[1],
                    node: parts[2],
                    validator: parts[3],
                    treasury: parts[4],
                };
                if weights.is_empty() {
                    split = split.without_upstream();
                }
                // Spread the upstream bps over the stack entries, exactly.
                let total: u32 = weights.iter().map(|&w| u32::from(w)).sum();
                let mut stack: Vec<(u8, u16)> = weights
                    .iter()
                    .enumerate()
                    .map(|(i, &w)| {
                        (
                            i as u8,
                            (u32::from(split.upstream) * u32::from(w) / total.max(1)) as u16,
                        )
                    })
                    .collect();
                let given: u32 = stack_sum(&stack);
                if let Some(first) = stack.first_mut() {
                    first.1 += (u32::from(split.upstream) - given) as u16;
                }
                (split, stack)
            })
    }

    fn stack_sum(stack: &[(u8, u16)]) -> u32 {
        stack.iter().map(|(_, b)| u32::from(*b)).sum()
    }

    proptest! {
        #[test]
        fn shares_always_sum_to_the_fee(fee in any::<u128>(), (split, stack) in split_and_stack()) {
            let fee = Uint128::new(fee);
            let shares = apportion_fee(fee, &split, &stack).unwrap();
            prop_assert_eq!(shares.total(), fee);
        }

        #[test]
        fn each_share_is_its_floor_and_treasury_loses_at_most_one_unit_per_part(fee in 0u128..u64::MAX as u128, (split, stack) in split_and_stack()) {
            let shares = apportion_fee(Uint128::new(fee), &split, &stack).unwrap();
            let exact = |bps: u16| fee * u128::from(bps) / 10_000;
            prop_assert_eq!(shares.creator.u128(), exact(split.creator));
            prop_assert_eq!(shares.node.u128(), exact(split.node));
            prop_assert_eq!(shares.validator.u128(), exact(split.validator));
            for ((_, amount), (_, bps)) in shares.upstream.iter().zip(&stack) {
                prop_assert_eq!(amount.u128(), exact(*bps));
            }
            // The treasury gets its own share plus fewer than one unit per other part.
            let others = 4 + stack.len() as u128;
            prop_assert!(shares.treasury.u128() >= exact(split.treasury));
            prop_assert!(shares.treasury.u128() < exact(split.treasury) + others + 1);
        }
        #[test]
        fn pool_shares_sum_to_the_pool_and_lose_less_than_one_unit_each(
            pool in any::<u128>(),
            weights in proptest::collection::vec(any::<u64>(), 0..100),
        ) {
            let weights: Vec<Uint128> = weights.into_iter().map(|w| Uint128::new(w.into())).collect();
            let (shares, left) = divide_pool(Uint128::new(pool), &weights);
            prop_assert_eq!(shares.len(), weights.len());
            let paid: Uint128 = shares.iter().sum();
            prop_assert_eq!(paid + left, Uint128::new(pool));
            let total: Uint128 = weights.iter().sum();
            if !total.is_zero() {
                prop_assert!(left.u128() < weights.len() as u128);
                for (s, w) in shares.iter().zip(&weights) {
                    // Exactly floor(pool × w / total), checked in 256-bit arithmetic.
                    let exact = cosmwasm_std::Uint256::from(pool) * cosmwasm_std::Uint256::from(*w)
                        / cosmwasm_std::Uint256::from(total);
                    prop_assert_eq!(cosmwasm_std::Uint256::from(*s), exact);
                }
            }
        }
    }
}
