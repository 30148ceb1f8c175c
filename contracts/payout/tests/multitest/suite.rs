use cosmwasm_std::{coin, coins, to_json_binary, Addr, Coin, Uint128};
use cw_multi_test::{App, AppResponse, ContractWrapper, Executor};
use havn_payout::msg::{
    EarningsResponse, ExecuteMsg, InstantiateMsg, QueryMsg, TotalsResponse,
    WorkflowEarningsResponse,
};
use havn_payout::state::Params;
use havn_types::{AssetUnchecked, PayoutMsg, RoyaltyPayee, Settlement, Split};
use serde::de::DeserializeOwned;

pub use havn_testing::Failure;

pub const DENOM: &str = "uhai";
pub const FUNDS: u128 = 1_000_000_000;

pub struct Suite {
    pub app: App,
    pub admin: Addr,
    pub log: Addr,
    pub treasury: Addr,
    pub payout: Addr,
    pub token: Option<Addr>,
}

pub fn suite() -> Suite {
    build(false, Params::default())
}

pub fn cw20_suite() -> Suite {
    build(true, Params::default())
}

pub fn suite_with(params: Params) -> Suite {
    build(false, params)
}

fn build(cw20: bool, params: Params) -> Suite {
    let mut app = App::default();
    let admin = app.api().addr_make("governance");
    let log = app.api().addr_make("execution-log");
    let treasury = app.api().addr_make("treasury");
    let stranger = app.api().addr_make("stranger");
    let mut token = None;
    let asset = if cw20 {
        let t = havn_testing::instantiate_hai(
            &mut app,
            &admin,
            &[(log.clone(), FUNDS), (stranger, FUNDS)],
        );
        token = Some(t.clone());
        AssetUnchecked::Cw20(t.to_string())
    } else {
        app.init_modules(|router, _, storage| {
            for who in [&log, &stranger] {
                router
                    .bank
                    .init_balance(storage, who, vec![coin(FUNDS, DENOM), coin(FUNDS, "uatom")])
                    .unwrap();
            }
        });
        AssetUnchecked::Native(DENOM.into())
    };
    let code = app.store_code(Box::new(
        ContractWrapper::new(
            havn_payout::contract::execute,
            havn_payout::contract::instantiate,
            havn_payout::contract::query,
        )
        .with_migrate(havn_payout::contract::migrate),
    ));
    let payout = app
        .instantiate_contract(
            code,
            admin.clone(),
            &InstantiateMsg {
                admin: admin.to_string(),
                asset,
                execution_log: Some(log.to_string()),
                treasury: treasury.to_string(),
                params: Some(params),
            },
            &[],
            "payout",
            Some(admin.to_string()),
        )
        .unwrap();
    Suite {
        app,
        admin,
        log,
        treasury,
        payout,
        token,
    }
}

impl Suite {
    pub fn addr(&self, name: &str) -> Addr {
        self.app.api().addr_make(name)
    }

    /// A settlement with the default split, the given royalty stack and validators (with stakes).
    pub fn settlement(
        &self,
        job_id: u64,
        fee: u128,
        stack: &[(&str, u16)],
        validators: &[(&str, u128)],
    ) -> Settlement {
        Settlement {
            job_id,
            workflow_id: 7,
            fee: Uint128::new(fee),
            split: if stack.is_empty() {
                Split::DEFAULT.without_upstream()
            } else {
                Split::DEFAULT
            },
            creator: self.addr("creator"),
            royalty_stack: stack
                .iter()
                .map(|(who, bps)| RoyaltyPayee {
                    payee: self.addr(who),
                    bps: *bps,
                })
                .collect(),
            node: self.addr("node"),
            validators: validators
                .iter()
                .map(|(who, stake)| (self.addr(who), Uint128::new(*stake)))
                .collect(),
        }
    }

    /// `sender` distributes with `attached` paid (native funds or a cw20 Send).
    pub fn distribute_from(
        &mut self,
        sender: &Addr,
        settlements: Vec<Settlement>,
        attached: u128,
    ) -> Result<AppResponse, Failure> {
        match self.token.clone() {
            Some(token) => {
                let send = cw20::Cw20ExecuteMsg::Send {
                    contract: self.payout.to_string(),
                    amount: Uint128::new(attached),
                    msg: to_json_binary(&PayoutMsg::Distribute { settlements }).unwrap(),
                };
                self.app.execute_contract(sender.clone(), token, &send, &[])
            }
            None => self.app.execute_contract(
                sender.clone(),
                self.payout.clone(),
                &ExecuteMsg::Distribute { settlements },
                &coins(attached, DENOM),
            ),
        }
        .map_err(Failure)
    }

    /// The execution log distributes, attaching exactly the fees.
    pub fn distribute(&mut self, settlements: Vec<Settlement>) -> Result<AppResponse, Failure> {
        let fees = settlements.iter().map(|s| s.fee.u128()).sum();
        let log = self.log.clone();
        self.distribute_from(&log, settlements, fees)
    }

    pub fn execute(
        &mut self,
        sender: &Addr,
        msg: &ExecuteMsg,
        funds: &[Coin],
    ) -> Result<AppResponse, Failure> {
        self.app
            .execute_contract(sender.clone(), self.payout.clone(), msg, funds)
            .map_err(Failure)
    }

    pub fn claim(&mut self, name: &str) -> Result<AppResponse, Failure> {
        let who = self.addr(name);
        self.execute(&who, &ExecuteMsg::Claim {}, &[])
    }

    pub fn query<T: DeserializeOwned>(&self, msg: &QueryMsg) -> T {
        self.app.wrap().query_wasm_smart(&self.payout, msg).unwrap()
    }

    pub fn earnings(&self, name: &str) -> EarningsResponse {
        self.query(&QueryMsg::Earnings {
            address: self.addr(name).to_string(),
        })
    }

    pub fn claimable(&self, who: &Addr) -> u128 {
        self.query::<EarningsResponse>(&QueryMsg::Earnings {
            address: who.to_string(),
        })
        .claimable
        .u128()
    }

    pub fn workflow(&self, id: u64) -> WorkflowEarningsResponse {
        self.query(&QueryMsg::WorkflowEarnings { workflow_id: id })
    }

    pub fn totals(&self) -> TotalsResponse {
        self.query(&QueryMsg::Totals {})
    }

    pub fn balance(&self, who: &Addr) -> u128 {
        havn_testing::hai_balance(&self.app, self.token.as_ref(), DENOM, who)
    }
}
