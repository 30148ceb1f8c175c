//! $HAI, configured per deployment: a cw20 token contract or a native / IBC / tokenfactory denom.
//! Every contract takes payment in either form and turns away the wrong one with a clear error.

use std::fmt;

use cosmwasm_schema::cw_serde;
use cosmwasm_std::{
    to_json_binary, Addr, Api, BankMsg, Binary, Coin, CosmosMsg, MessageInfo, StdError, Uint128,
    WasmMsg,
};
use thiserror::Error;

#[derive(Error, Debug, PartialEq)]
pub enum AssetError {
    #[error("{0}")]
    Std(#[from] StdError),

    #[error("invalid denom {denom:?}: a denom is 3-128 characters of letters, digits and /:._- starting with a letter")]
    InvalidDenom { denom: String },

    #[error("no payment attached: send {expected}")]
    NoPayment { expected: String },

    #[error("wrong asset: this contract takes {expected}, not {got}")]
    WrongAsset { expected: String, got: String },

    #[error("send exactly one coin ({expected}); got {count} different denoms")]
    MultipleCoins { expected: String, count: usize },

    #[error(
        "this deployment takes $HAI as cw20 token {token}: pay through that token's Send message"
    )]
    PayWithCw20 { token: String },

    #[error("this message takes no funds; attached: {funds}")]
    Unexpected { funds: String },
}

/// The token a deployment counts money in.
#[cw_serde]
#[derive(Eq)]
pub enum Asset {
    /// A cw20 token contract.
    Cw20(Addr),
    /// A bank denom: native, IBC (`ibc/…`) or tokenfactory (`factory/…`).
    Native(String),
}

/// An [`Asset`] as a message carries it, before the address is validated.
#[cw_serde]
pub enum AssetUnchecked {
    Cw20(String),
    Native(String),
}

impl AssetUnchecked {
    pub fn check(self, api: &dyn Api) -> Result<Asset, AssetError> {
        match self {
            AssetUnchecked::Cw20(address) => Ok(Asset::Cw20(api.addr_validate(&address)?)),
            AssetUnchecked::Native(denom) if is_valid_denom(&denom) => Ok(Asset::Native(denom)),
            AssetUnchecked::Native(denom) => Err(AssetError::InvalidDenom { denom }),
        }
    }
}

/// The Cosmos SDK's denom rule: `[a-zA-Z][a-zA-Z0-9/:._-]{2,127}`.
fn is_valid_denom(denom: &str) -> bool {
    let mut chars = denom.chars();
    (3..=128).contains(&denom.len())
        && chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || "/:._-".contains(c))
}

impl fmt::Display for Asset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Asset::Cw20(token) => write!(f, "cw20:{token}"),
            Asset::Native(denom) => f.write_str(denom),
        }
    }
}

impl Asset {
    /// An amount as a user reads it: `250uhai`, or `250 cw20:<address>`.
    pub fn amount(&self, amount: Uint128) -> String {
        match self {
            Asset::Native(denom) => format!("{amount}{denom}"),
            Asset::Cw20(_) => format!("{amount} {self}"),
        }
    }

    /// The message that sends `amount` of this asset from the contract to `recipient`.
    pub fn transfer_msg(&self, recipient: &Addr, amount: Uint128) -> Result<CosmosMsg, AssetError> {
        Ok(match self {
            Asset::Native(denom) => BankMsg::Send {
                to_address: recipient.to_string(),
                amount: vec![Coin::new(amount, denom)],
            }
            .into(),
            Asset::Cw20(token) => WasmMsg::Execute {
                contract_addr: token.to_string(),
                msg: to_json_binary(&Cw20Message::Transfer {
                    recipient: recipient.as_str(),
                    amount,
                })?,
                funds: vec![],
            }
            .into(),
        })
    }

    /// The message that destroys `amount` of this asset held by the contract: a bank burn, or the
    /// cw20 token's `Burn` (which every cw20-base token supports).
    pub fn burn_msg(&self, amount: Uint128) -> Result<CosmosMsg, AssetError> {
        Ok(match self {
            Asset::Native(denom) => BankMsg::Burn {
                amount: vec![Coin::new(amount, denom)],
            }
            .into(),
            Asset::Cw20(token) => WasmMsg::Execute {
                contract_addr: token.to_string(),
                msg: to_json_binary(&Cw20Message::Burn { amount })?,
                funds: vec![],
            }
            .into(),
        })
    }

    /// The message that pays `amount` to `contract` together with `msg`: a contract call with funds
    /// attached, or the cw20 token's `Send` (which delivers `msg` in a `Receive` hook).
    pub fn send_to_contract_msg(
        &self,
        contract: &Addr,
        amount: Uint128,
        msg: Binary,
    ) -> Result<CosmosMsg, AssetError> {
        Ok(match self {
            Asset::Native(denom) => WasmMsg::Execute {
                contract_addr: contract.to_string(),
                msg,
                funds: vec![Coin::new(amount, denom)],
            }
            .into(),
            Asset::Cw20(token) => WasmMsg::Execute {
                contract_addr: token.to_string(),
                msg: to_json_binary(&Cw20Message::Send {
                    contract: contract.as_str(),
                    amount,
                    msg,
                })?,
                funds: vec![],
            }
            .into(),
        })
    }

    /// The amount paid in this asset as native funds on `info`; anything else attached is an error.
    pub fn native_payment(&self, info: &MessageInfo) -> Result<Uint128, AssetError> {
        let Asset::Native(denom) = self else {
            return match info.funds.is_empty() {
                true => Err(AssetError::PayWithCw20 {
                    token: self.to_string(),
                }),
                false => Err(AssetError::WrongAsset {
                    expected: self.to_string(),
                    got: fmt_funds(&info.funds),
                }),
            };
        };
        match info.funds.as_slice() {
            [] => Err(AssetError::NoPayment {
                expected: denom.clone(),
            }),
            [coin] if coin.denom == *denom && !coin.amount.is_zero() => Ok(coin.amount),
            [coin] if coin.denom == *denom => Err(AssetError::NoPayment {
                expected: denom.clone(),
            }),
            [coin] => Err(AssetError::WrongAsset {
                expected: denom.clone(),
                got: coin.denom.clone(),
            }),
            coins => Err(AssetError::MultipleCoins {
                expected: denom.clone(),
                count: coins.len(),
            }),
        }
    }

    /// The amount paid in this asset by a cw20 `Receive` hook from `token`.
    pub fn cw20_payment(&self, token: &Addr, amount: Uint128) -> Result<Uint128, AssetError> {
        match self {
            Asset::Cw20(expected) if expected == token => Ok(amount),
            _ => Err(AssetError::WrongAsset {
                expected: self.to_string(),
                got: format!("cw20:{token}"),
            }),
        }
    }
}

/// The cw20 messages contracts send. Serializes exactly like the same `cw20::Cw20ExecuteMsg`
/// variants, without linking that whole enum's serializer into every contract.
#[derive(serde::Serialize)]
#[serde(rename_all = "snake_case")]
enum Cw20Message<'a> {
    Transfer {
        recipient: &'a str,
        amount: Uint128,
    },
    Send {
        contract: &'a str,
        amount: Uint128,
        msg: Binary,
    },
    Burn {
        amount: Uint128,
    },
}

/// Rejects any funds on a message that takes none, so nothing is left stranded in the contract.
pub fn nonpayable(info: &MessageInfo) -> Result<(), AssetError> {
    match info.funds.is_empty() {
        true => Ok(()),
        false => Err(AssetError::Unexpected {
            funds: fmt_funds(&info.funds),
        }),
    }
}

fn fmt_funds(funds: &[Coin]) -> String {
    funds
        .iter()
        .map(|c| format!("{}{}", c.amount, c.denom))
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use cosmwasm_std::testing::{message_info, MockApi};
    use cosmwasm_std::{coin, coins, from_json};

    #[test]
    fn denom_rules_follow_the_sdk() {
        let api = MockApi::default();
        for good in [
            "uhai",
            "ibc/27394FB092D2ECCD56123C74F36E4C1F926001CEADA9CA97EA622B25F41E5EB2",
            "factory/osmo1x/uhai",
        ] {
            assert_eq!(
                AssetUnchecked::Native(good.into()).check(&api),
                Ok(Asset::Native(good.into()))
            );
        }
        for bad in ["", "ab", "1hai", "u hai", &"u".repeat(129)] {
            assert_eq!(
                AssetUnchecked::Native(bad.into()).check(&api),
                Err(AssetError::InvalidDenom { denom: bad.into() })
            );
        }
        assert!(AssetUnchecked::Cw20("not-an-address".into())
            .check(&api)
            .is_err());
        let token = api.addr_make("token");
        assert_eq!(
            AssetUnchecked::Cw20(token.to_string()).check(&api),
            Ok(Asset::Cw20(token))
        );
    }

    #[test]
    fn native_payment_takes_only_the_one_denom() {
        let api = MockApi::default();
        let payer = api.addr_make("payer");
        let hai = Asset::Native("uhai".into());
        assert_eq!(
            hai.native_payment(&message_info(&payer, &coins(5, "uhai"))),
            Ok(Uint128::new(5))
        );
        assert_eq!(
            hai.native_payment(&message_info(&payer, &[])),
            Err(AssetError::NoPayment {
                expected: "uhai".into()
            })
        );
        assert_eq!(
            hai.native_payment(&message_info(&payer, &coins(5, "uatom"))),
            Err(AssetError::WrongAsset {
                expected: "uhai".into(),
                got: "uatom".into()
            })
        );
        assert_eq!(
            hai.native_payment(&message_info(&payer, &[coin(5, "uhai"), coin(1, "uatom")])),
            Err(AssetError::MultipleCoins {
                expected: "uhai".into(),
                count: 2
            })
        );
        let cw20 = Asset::Cw20(api.addr_make("token"));
        assert_eq!(
            cw20.native_payment(&message_info(&payer, &[])),
            Err(AssetError::PayWithCw20 {
                token: cw20.to_string()
            })
        );
        assert!(matches!(
            cw20.native_payment(&message_info(&payer, &coins(5, "uhai"))),
            Err(AssetError::WrongAsset { .. })
        ));
    }

    #[test]
    fn cw20_payment_checks_the_token() {
        let api = MockApi::default();
        let (token, other) = (api.addr_make("token"), api.addr_make("other"));
        let hai = Asset::Cw20(token.clone());
        assert_eq!(
            hai.cw20_payment(&token, Uint128::new(9)),
            Ok(Uint128::new(9))
        );
        assert!(matches!(
            hai.cw20_payment(&other, Uint128::new(9)),
            Err(AssetError::WrongAsset { .. })
        ));
        assert!(matches!(
            Asset::Native("uhai".into()).cw20_payment(&token, Uint128::new(9)),
            Err(AssetError::WrongAsset { .. })
        ));
    }

    #[test]
    fn transfer_msgs_match_the_asset() {
        let api = MockApi::default();
        let to = api.addr_make("to");
        let bank = Asset::Native("uhai".into())
            .transfer_msg(&to, Uint128::new(3))
            .unwrap();
        assert_eq!(
            bank,
            BankMsg::Send {
                to_address: to.to_string(),
                amount: coins(3, "uhai")
            }
            .into()
        );
        let token = api.addr_make("token");
        let CosmosMsg::Wasm(WasmMsg::Execute {
            contract_addr,
            msg,
            funds,
        }) = Asset::Cw20(token.clone())
            .transfer_msg(&to, Uint128::new(3))
            .unwrap()
        else {
            panic!("cw20 transfer must be a wasm execute");
        };
        assert_eq!((contract_addr, funds), (token.to_string(), vec![]));
        assert_eq!(
            from_json::<cw20::Cw20ExecuteMsg>(&msg).unwrap(),
            cw20::Cw20ExecuteMsg::Transfer {
                recipient: to.to_string(),
                amount: Uint128::new(3)
            }
        );
    }

    #[test]
    fn send_to_contract_matches_the_asset() {
        let api = MockApi::default();
        let (payout, token) = (api.addr_make("payout"), api.addr_make("token"));
        let inner = Binary::from(br#"{"distribute":{}}"#);
        let native = Asset::Native("uhai".into())
            .send_to_contract_msg(&payout, Uint128::new(9), inner.clone())
            .unwrap();
        assert_eq!(
            native,
            WasmMsg::Execute {
                contract_addr: payout.to_string(),
                msg: inner.clone(),
                funds: coins(9, "uhai")
            }
            .into()
        );
        let CosmosMsg::Wasm(WasmMsg::Execute {
            contract_addr,
            msg,
            funds,
        }) = Asset::Cw20(token.clone())
            .send_to_contract_msg(&payout, Uint128::new(9), inner.clone())
            .unwrap()
        else {
            panic!("cw20 send must be a wasm execute");
        };
        assert_eq!((contract_addr, funds), (token.to_string(), vec![]));
        assert_eq!(
            from_json::<cw20::Cw20ExecuteMsg>(&msg).unwrap(),
            cw20::Cw20ExecuteMsg::Send {
                contract: payout.to_string(),
                amount: Uint128::new(9),
                msg: inner
            }
        );
    }

    #[test]
    fn burn_matches_the_asset() {
        let token = MockApi::default().addr_make("token");
        assert_eq!(
            Asset::Native("uhai".into())
                .burn_msg(Uint128::new(4))
                .unwrap(),
            BankMsg::Burn {
                amount: coins(4, "uhai")
            }
            .into()
        );
        let CosmosMsg::Wasm(WasmMsg::Execute {
            contract_addr, msg, ..
        }) = Asset::Cw20(token.clone())
            .burn_msg(Uint128::new(4))
            .unwrap()
        else {
            panic!("cw20 burn must be a wasm execute");
        };
        assert_eq!(contract_addr, token.to_string());
        assert_eq!(
            from_json::<cw20::Cw20ExecuteMsg>(&msg).unwrap(),
            cw20::Cw20ExecuteMsg::Burn {
                amount: Uint128::new(4)
            }
        );
    }

    #[test]
    fn nonpayable_rejects_any_funds() {
        let payer = MockApi::default().addr_make("payer");
        assert_eq!(nonpayable(&message_info(&payer, &[])), Ok(()));
        assert_eq!(
            nonpayable(&message_info(&payer, &coins(1, "uhai"))),
            Err(AssetError::Unexpected {
                funds: "1uhai".into()
            })
        );
    }
}
