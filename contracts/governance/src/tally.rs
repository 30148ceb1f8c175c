//! The x/gov tally rules, as a pure function of the votes and the params.

use cosmwasm_schema::cw_serde;
use cosmwasm_std::{Decimal, Uint128};

use crate::state::{Params, Tally, VoteOption};

impl Tally {
    pub fn add(&mut self, option: VoteOption, power: Uint128) {
        *self.slot(option) += power;
    }

    pub fn remove(&mut self, option: VoteOption, power: Uint128) {
        *self.slot(option) -= power;
    }

    fn slot(&mut self, option: VoteOption) -> &mut Uint128 {
        match option {
            VoteOption::Yes => &mut self.yes,
            VoteOption::No => &mut self.no,
            VoteOption::Abstain => &mut self.abstain,
            VoteOption::NoWithVeto => &mut self.no_with_veto,
        }
    }

    pub fn voted(&self) -> Uint128 {
        self.yes + self.no + self.abstain + self.no_with_veto
    }
}

/// The result of a tally once voting has ended.
#[cw_serde]
#[derive(Copy, Eq)]
pub enum Outcome {
    Passed,
    /// Fewer than `quorum` of the total power voted. Deposit refunded.
    QuorumNotReached,
    /// No-with-veto above the veto threshold. Deposit burned.
    Vetoed,
    /// Yes not above the threshold of yes + no + veto (or only abstentions). Deposit refunded.
    Rejected,
}

/// Cosmos x/gov: quorum first (voted / total ≥ quorum), then veto (veto / voted > veto
/// threshold), then threshold (yes / (yes + no + veto) > threshold).
pub fn tally(t: &Tally, total_power: Uint128, p: &Params) -> Outcome {
    let voted = t.voted();
    if total_power.is_zero() || Decimal::from_ratio(voted, total_power) < p.quorum {
        return Outcome::QuorumNotReached;
    }
    if voted.is_zero() {
        return Outcome::QuorumNotReached;
    }
    if Decimal::from_ratio(t.no_with_veto, voted) > p.veto_threshold {
        return Outcome::Vetoed;
    }
    let deciding = t.yes + t.no + t.no_with_veto;
    if deciding.is_zero() || Decimal::from_ratio(t.yes, deciding) <= p.threshold {
        return Outcome::Rejected;
    }
    Outcome::Passed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(yes: u128, no: u128, abstain: u128, veto: u128) -> Tally {
        Tally {
            yes: yes.into(),
            no: no.into(),
            abstain: abstain.into(),
            no_with_veto: veto.into(),
        }
    }

    #[test]
    fn follows_x_gov() {
        let p = Params::default();
        let total = Uint128::new(1000);
        // 33.3 % voted: below the 33.4 % quorum.
        assert_eq!(
            tally(&t(333, 0, 0, 0), total, &p),
            Outcome::QuorumNotReached
        );
        assert_eq!(tally(&t(334, 0, 0, 0), total, &p), Outcome::Passed);
        // Abstain counts toward quorum but not toward the threshold.
        assert_eq!(tally(&t(0, 0, 1000, 0), total, &p), Outcome::Rejected);
        assert_eq!(tally(&t(1, 0, 999, 0), total, &p), Outcome::Passed);
        // Exactly 50 % yes is not more than the threshold.
        assert_eq!(tally(&t(500, 500, 0, 0), total, &p), Outcome::Rejected);
        assert_eq!(tally(&t(501, 499, 0, 0), total, &p), Outcome::Passed);
        // Veto is measured against all votes, abstentions included, and wins over a yes majority.
        assert_eq!(tally(&t(600, 0, 65, 335), total, &p), Outcome::Vetoed);
        assert_eq!(tally(&t(600, 0, 66, 334), total, &p), Outcome::Passed);
        assert_eq!(
            tally(&t(0, 0, 0, 0), Uint128::zero(), &p),
            Outcome::QuorumNotReached
        );
    }

    #[test]
    fn changing_a_vote_moves_its_power() {
        let mut tally = t(10, 0, 0, 0);
        tally.remove(VoteOption::Yes, Uint128::new(10));
        tally.add(VoteOption::NoWithVeto, Uint128::new(10));
        assert_eq!(tally, t(0, 0, 0, 10));
        assert_eq!(tally.voted(), Uint128::new(10));
    }

    proptest::proptest! {
        /// More yes never hurts a proposal, and more veto never rescues a rejected one. (Veto
        /// votes do count toward quorum, as in x/gov, so they can tip a proposal over it.)
        #[test]
        fn tally_is_monotone(
            yes in 0u64..1_000_000, no in 0u64..1_000_000, abstain in 0u64..1_000_000,
            veto in 0u64..1_000_000, extra in 1u64..1_000_000,
        ) {
            let p = Params::default();
            let votes = t(yes.into(), no.into(), abstain.into(), veto.into());
            let total = votes.voted() + Uint128::new(extra.into()) * Uint128::new(3);
            let before = tally(&votes, total, &p);
            let mut more_yes = votes.clone();
            more_yes.add(VoteOption::Yes, Uint128::new(extra.into()));
            if before == Outcome::Passed {
                proptest::prop_assert_eq!(tally(&more_yes, total, &p), Outcome::Passed);
            }
            let mut more_veto = votes;
            more_veto.add(VoteOption::NoWithVeto, Uint128::new(extra.into()));
            if matches!(before, Outcome::Rejected | Outcome::Vetoed) {
                proptest::prop_assert_ne!(tally(&more_veto, total, &p), Outcome::Passed);
            }
            // The tally only ever passes with more yes than threshold of the deciding votes.
            if before == Outcome::Passed {
                let deciding = yes as u128 + no as u128 + veto as u128;
                proptest::prop_assert!(yes as u128 * 2 > deciding);
            }
        }
    }
}
