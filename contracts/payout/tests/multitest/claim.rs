use cosmwasm_std::coins;
use havn_payout::msg::ExecuteMsg;
use havn_payout::ContractError;
use havn_types::AssetError;

use crate::suite::{cw20_suite, suite, Suite, DENOM};

fn credit(s: &mut Suite) {
    let settlement = s.settlement(1, 10_000, &[("lora", 2000)], &[("v0", 1)]);
    s.distribute(vec![settlement]).unwrap();
}

#[test]
fn claim_pays_the_whole_balance_once() {
    for mut s in [suite(), cw20_suite()] {
        credit(&mut s);
        let creator = s.addr("creator");
        let before = s.balance(&creator);
        s.claim("creator").unwrap();
        assert_eq!(s.balance(&creator) - before, 4_500);
        let e = s.earnings("creator");
        assert_eq!(
            (e.earned.u128(), e.claimed.u128(), e.claimable.u128()),
            (4_500, 4_500, 0)
        );
        assert_eq!(
            s.claim("creator").unwrap_err(),
            ContractError::NothingToClaim {
                address: creator.to_string()
            }
        );
        // What the contract holds is exactly what it still owes.
        let t = s.totals();
        assert_eq!((t.claimed.u128(), t.owed.u128()), (4_500, 5_500));
        assert_eq!(s.balance(&s.payout.clone()), 5_500);
    }
}

#[test]
fn claim_with_nothing_credited_is_a_clear_error() {
    let mut s = suite();
    let nobody = s.addr("nobody");
    assert_eq!(
        s.claim("nobody").unwrap_err(),
        ContractError::NothingToClaim {
            address: nobody.to_string()
        }
    );
}

#[test]
fn claim_takes_no_funds() {
    let mut s = suite();
    credit(&mut s);
    let stranger = s.addr("stranger");
    assert_eq!(
        s.execute(&stranger, &ExecuteMsg::Claim {}, &coins(1, DENOM))
            .unwrap_err(),
        AssetError::Unexpected {
            funds: format!("1{DENOM}")
        }
    );
}

#[test]
fn anyone_releases_the_treasury_share_to_the_treasury() {
    for mut s in [suite(), cw20_suite()] {
        credit(&mut s);
        let (stranger, treasury) = (s.addr("stranger"), s.treasury.clone());
        s.execute(&stranger, &ExecuteMsg::ReleaseTreasury {}, &[])
            .unwrap();
        assert_eq!(s.balance(&treasury), 500);
        assert_eq!(s.claimable(&treasury), 0);
        assert_eq!(
            s.execute(&stranger, &ExecuteMsg::ReleaseTreasury {}, &[])
                .unwrap_err(),
            ContractError::NothingToClaim {
                address: treasury.to_string()
            }
        );
    }
}
