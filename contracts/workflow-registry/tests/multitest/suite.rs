//! A DAO-DAO-style suite builder: one place wires the registry (and a cw20 $HAI when asked).

use cosmwasm_std::{coin, to_json_binary, Addr, Coin, Empty, Uint128};
use cw20::Cw20ExecuteMsg;
use cw_multi_test::{App, AppResponse, Contract, ContractWrapper, Executor};
pub use havn_testing::Failure;
use havn_types::{AssetUnchecked, Split};
use havn_workflow_registry::contract::{execute, instantiate, migrate, query};
use havn_workflow_registry::msg::{
    DependencyMsg, DependencyTarget, ExecuteMsg, InstantiateMsg, PublishMsg, PublishResponse,
    QueryMsg, ReceiveMsg,
};
use havn_workflow_registry::state::{ArtifactKind, Params, Workflow};
use serde::de::DeserializeOwned;

pub const DENOM: &str = "uhai";

pub fn registry_contract() -> Box<dyn Contract<Empty>> {
    Box::new(ContractWrapper::new(execute, instantiate, query).with_migrate(migrate))
}

/// A valid 64-hex-digit content hash, distinct per seed.
pub fn hash(seed: u32) -> String {
    format!("{:064x}", u128::from(seed) * 0x9e37_79b9_7f4a_7c15 + 1)
}

pub fn publish_msg(name: &str, seed: u32) -> PublishMsg {
    PublishMsg {
        name: name.into(),
        content_hash: hash(seed),
        price: Uint128::new(100),
        split: None,
        dependencies: vec![],
        parent: None,
        artifacts: vec![],
        metadata: None,
        fingerprint: Some(havn_types::fingerprint::placeholder(&hash(seed))),
    }
}

pub fn on_workflow(id: u64, weight_bps: u16) -> DependencyMsg {
    DependencyMsg {
        target: DependencyTarget::Workflow { id },
        weight_bps,
    }
}

pub fn on_artifact(kind: ArtifactKind, seed: u32, payee: &Addr, weight_bps: u16) -> DependencyMsg {
    DependencyMsg {
        target: DependencyTarget::Artifact {
            kind,
            content_hash: hash(seed),
            payee: payee.to_string(),
        },
        weight_bps,
    }
}

pub fn split(creator: u16, upstream: u16, node: u16, validator: u16, treasury: u16) -> Split {
    Split {
        creator,
        upstream,
        node,
        validator,
        treasury,
    }
}

#[derive(Clone, Copy, PartialEq)]
pub enum Money {
    Native,
    Cw20,
}

pub struct SuiteBuilder {
    money: Money,
    params: Params,
    balances: Vec<(&'static str, u128)>,
}

impl SuiteBuilder {
    pub fn new() -> Self {
        SuiteBuilder {
            money: Money::Native,
            params: Params::default(),
            balances: vec![],
        }
    }

    pub fn with_cw20(mut self) -> Self {
        self.money = Money::Cw20;
        self
    }

    pub fn with_params(mut self, params: Params) -> Self {
        self.params = params;
        self
    }

    pub fn with_deposit(mut self, amount: u128) -> Self {
        self.params.publish_deposit = Uint128::new(amount);
        self
    }

    /// Gives `user` this much $HAI (bank coins or cw20, as the suite's money).
    pub fn with_balance(mut self, user: &'static str, amount: u128) -> Self {
        self.balances.push((user, amount));
        self
    }

    pub fn build(self) -> Suite {
        let mut app = App::default();
        let admin = app.api().addr_make("governance");
        let treasury = app.api().addr_make("treasury");
        let mut token = None;
        let asset = match self.money {
            Money::Native => {
                let funded: Vec<(Addr, u128)> = self
                    .balances
                    .iter()
                    .map(|(u, a)| (app.api().addr_make(u), *a))
                    .collect();
                app.init_modules(|router, _, storage| {
                    for (addr, amount) in funded {
                        router
                            .bank
                            .init_balance(
                                storage,
                                &addr,
                                vec![coin(amount, DENOM), coin(amount, "uatom")],
                            )
                            .unwrap();
                    }
                });
                AssetUnchecked::Native(DENOM.into())
            }
            Money::Cw20 => {
                let balances: Vec<(Addr, u128)> = self
                    .balances
                    .iter()
                    .map(|(u, a)| (app.api().addr_make(u), *a))
                    .collect();
                let addr = havn_testing::instantiate_hai(&mut app, &admin, &balances);
                token = Some(addr.clone());
                AssetUnchecked::Cw20(addr.to_string())
            }
        };
        let code_id = app.store_code(registry_contract());
        let msg = InstantiateMsg {
            admin: admin.to_string(),
            asset,
            treasury: treasury.to_string(),
            params: Some(self.params),
        };
        let registry = app
            .instantiate_contract(
                code_id,
                admin.clone(),
                &msg,
                &[],
                "registry",
                Some(admin.to_string()),
            )
            .unwrap();
        Suite {
            app,
            registry,
            admin,
            treasury,
            token,
            code_id,
        }
    }
}

pub struct Suite {
    pub app: App,
    pub registry: Addr,
    pub admin: Addr,
    pub treasury: Addr,
    pub token: Option<Addr>,
    pub code_id: u64,
}

impl Suite {
    pub fn addr(&self, name: &str) -> Addr {
        self.app.api().addr_make(name)
    }

    pub fn execute_with_funds(
        &mut self,
        sender: &Addr,
        msg: &ExecuteMsg,
        funds: &[Coin],
    ) -> Result<AppResponse, Failure> {
        self.app
            .execute_contract(sender.clone(), self.registry.clone(), msg, funds)
            .map_err(Failure)
    }

    pub fn execute(&mut self, sender: &Addr, msg: &ExecuteMsg) -> Result<AppResponse, Failure> {
        self.execute_with_funds(sender, msg, &[])
    }

    pub fn admin_execute(&mut self, msg: &ExecuteMsg) -> Result<AppResponse, Failure> {
        let admin = self.admin.clone();
        self.execute(&admin, msg)
    }

    /// Publishes and returns the new id, read from the response data.
    pub fn publish_with_funds(
        &mut self,
        sender: &Addr,
        msg: PublishMsg,
        funds: &[Coin],
    ) -> Result<u64, Failure> {
        let res = self.execute_with_funds(sender, &ExecuteMsg::Publish(msg), funds)?;
        Ok(
            cosmwasm_std::from_json::<PublishResponse>(res.data.expect("publish returns its id"))
                .unwrap()
                .id,
        )
    }

    pub fn publish(&mut self, sender: &Addr, msg: PublishMsg) -> Result<u64, Failure> {
        self.publish_with_funds(sender, msg, &[])
    }

    /// Publishes through the cw20 token's `Send`, paying `amount` as the deposit.
    pub fn publish_cw20(
        &mut self,
        sender: &Addr,
        amount: u128,
        msg: PublishMsg,
    ) -> Result<AppResponse, Failure> {
        let token = self.token.clone().expect("suite built with_cw20");
        self.send_cw20(&token, sender, amount, &ReceiveMsg::Publish(msg))
    }

    pub fn send_cw20(
        &mut self,
        token: &Addr,
        sender: &Addr,
        amount: u128,
        msg: &ReceiveMsg,
    ) -> Result<AppResponse, Failure> {
        let send = Cw20ExecuteMsg::Send {
            contract: self.registry.to_string(),
            amount: Uint128::new(amount),
            msg: to_json_binary(msg).unwrap(),
        };
        self.app
            .execute_contract(sender.clone(), token.clone(), &send, &[])
            .map_err(Failure)
    }

    pub fn query<T: DeserializeOwned>(&self, msg: &QueryMsg) -> T {
        self.app
            .wrap()
            .query_wasm_smart(&self.registry, msg)
            .unwrap()
    }

    pub fn query_err(&self, msg: &QueryMsg) -> String {
        self.app
            .wrap()
            .query_wasm_smart::<serde_json::Value>(&self.registry, msg)
            .unwrap_err()
            .to_string()
    }

    pub fn workflow(&self, id: u64) -> Workflow {
        self.query(&QueryMsg::Workflow { id })
    }

    pub fn next_id(&self) -> u64 {
        self.query::<havn_workflow_registry::msg::ConfigResponse>(&QueryMsg::Config {})
            .next_id
    }

    pub fn bank_balance(&self, who: &Addr) -> u128 {
        self.app
            .wrap()
            .query_balance(who, DENOM)
            .unwrap()
            .amount
            .u128()
    }

    pub fn cw20_balance(&self, who: &Addr) -> u128 {
        havn_testing::cw20_balance(
            &self.app,
            self.token.as_ref().expect("suite built with_cw20"),
            who,
        )
    }
}
