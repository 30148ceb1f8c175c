//! Suite builder for the staking contract, with real secp256k1 keys (k256).

use cosmwasm_std::{coin, coins, to_json_binary, Addr, Binary, Coin, Empty, Uint128};
use cw_multi_test::{App, AppResponse, Contract, ContractWrapper, Executor};
use havn_staking::contract::{execute, instantiate, migrate, query};
use havn_staking::msg::{
    ExecuteMsg, InstantiateMsg, KeyProof, OperatorResponse, QueryMsg, ReceiveMsg, TotalsResponse,
};
use havn_staking::state::{Params, Role};
use havn_types::keys::possession_digest;
use havn_types::AssetUnchecked;
use k256::ecdsa::SigningKey;
use serde::de::DeserializeOwned;

pub const DENOM: &str = "uhai";
pub const MIN: u128 = 1_000_000;

pub fn staking_contract() -> Box<dyn Contract<Empty>> {
    Box::new(ContractWrapper::new(execute, instantiate, query).with_migrate(migrate))
}

pub use havn_testing::{key, pubkey, Failure};

/// A signature on a digest, in the encoding the contract takes.
pub fn sign(key: &k256::ecdsa::SigningKey, digest: &[u8; 32]) -> Binary {
    havn_testing::bytes(&havn_testing::sign(key, digest))
}

pub struct SuiteBuilder {
    cw20: bool,
    params: Params,
    funded: Vec<&'static str>,
}

impl SuiteBuilder {
    pub fn new() -> Self {
        SuiteBuilder {
            cw20: false,
            params: Params {
                min_stake_node: Uint128::new(MIN),
                min_stake_validator: Uint128::new(MIN),
                ..Params::default()
            },
            funded: vec![],
        }
    }

    pub fn with_cw20(mut self) -> Self {
        self.cw20 = true;
        self
    }

    pub fn with_params(mut self, f: impl FnOnce(&mut Params)) -> Self {
        f(&mut self.params);
        self
    }

    /// Gives each name 1 000 × MIN $HAI (and some uatom).
    pub fn fund(mut self, names: &[&'static str]) -> Self {
        self.funded.extend_from_slice(names);
        self
    }

    pub fn build(self) -> Suite {
        let mut app = App::default();
        let admin = app.api().addr_make("governance");
        let treasury = app.api().addr_make("treasury");
        let funded: Vec<Addr> = self.funded.iter().map(|n| app.api().addr_make(n)).collect();
        let mut token = None;
        let asset = if self.cw20 {
            let balances: Vec<(Addr, u128)> =
                funded.iter().map(|a| (a.clone(), 1_000 * MIN)).collect();
            let addr = havn_testing::instantiate_hai(&mut app, &admin, &balances);
            token = Some(addr.clone());
            AssetUnchecked::Cw20(addr.to_string())
        } else {
            app.init_modules(|router, _, storage| {
                for addr in &funded {
                    router
                        .bank
                        .init_balance(
                            storage,
                            addr,
                            vec![coin(1_000 * MIN, DENOM), coin(1_000 * MIN, "uatom")],
                        )
                        .unwrap();
                }
            });
            AssetUnchecked::Native(DENOM.into())
        };
        let log_code = app.store_code(Box::new(ContractWrapper::new(
            stand_in_log::execute,
            stand_in_log::instantiate,
            stand_in_log::query,
        )));
        let log = app
            .instantiate_contract(
                log_code,
                admin.clone(),
                &stand_in_log::job(|n| app.api().addr_make(n), "pending"),
                &[],
                "execution-log",
                None,
            )
            .unwrap();
        let code_id = app.store_code(staking_contract());
        let msg = InstantiateMsg {
            admin: admin.to_string(),
            asset,
            treasury: treasury.to_string(),
            execution_log: Some(log.to_string()),
            params: Some(self.params),
        };
        let staking = app
            .instantiate_contract(
                code_id,
                admin.clone(),
                &msg,
                &[],
                "staking",
                Some(admin.to_string()),
            )
            .unwrap();
        Suite {
            app,
            staking,
            admin,
            treasury,
            log,
            token,
            code_id,
        }
    }
}

pub struct Suite {
    pub app: App,
    pub staking: Addr,
    pub admin: Addr,
    pub treasury: Addr,
    /// Stands in for the execution-log contract: the address staking trusts for fraud slashes,
    /// answering `Job` queries for evidence (`stand_in_log`).
    pub log: Addr,
    pub token: Option<Addr>,
    pub code_id: u64,
}

impl Suite {
    /// The stand-in log's job 42 with `status` (and the node's claimed output `[9; 32]`).
    pub fn set_job_status(&mut self, status: &str) {
        let job = stand_in_log::job(|n| self.app.api().addr_make(n), status);
        let (admin, log) = (self.admin.clone(), self.log.clone());
        self.app.execute_contract(admin, log, &job, &[]).unwrap();
    }

    pub fn addr(&self, name: &str) -> Addr {
        self.app.api().addr_make(name)
    }

    pub fn chain_id(&self) -> String {
        self.app.block_info().chain_id
    }

    /// A valid key registration for `name`, signed by its key.
    pub fn proof(&self, name: &str) -> KeyProof {
        self.proof_with(
            &key(name),
            &self.addr(name),
            &self.chain_id(),
            &self.staking.clone(),
        )
    }

    pub fn proof_with(
        &self,
        key: &SigningKey,
        operator: &Addr,
        chain_id: &str,
        contract: &Addr,
    ) -> KeyProof {
        let digest = possession_digest(chain_id, contract.as_str(), operator.as_str());
        KeyProof {
            pubkey: pubkey(key),
            signature: sign(key, &digest),
        }
    }

    pub fn execute_with_funds(
        &mut self,
        sender: &Addr,
        msg: &ExecuteMsg,
        funds: &[Coin],
    ) -> Result<AppResponse, Failure> {
        self.app
            .execute_contract(sender.clone(), self.staking.clone(), msg, funds)
            .map_err(Failure)
    }

    pub fn execute(&mut self, sender: &Addr, msg: &ExecuteMsg) -> Result<AppResponse, Failure> {
        self.execute_with_funds(sender, msg, &[])
    }

    /// Bonds `amount` for `role` as `name`, registering its key on the first bond.
    pub fn bond(&mut self, name: &str, role: Role, amount: u128) -> Result<AppResponse, Failure> {
        let who = self.addr(name);
        let key = self
            .query_opt::<OperatorResponse>(&QueryMsg::Operator {
                address: who.to_string(),
            })
            .is_none()
            .then(|| self.proof(name));
        match self.token.clone() {
            Some(token) => {
                let send = cw20::Cw20ExecuteMsg::Send {
                    contract: self.staking.to_string(),
                    amount: Uint128::new(amount),
                    msg: to_json_binary(&ReceiveMsg::Bond { role, key }).unwrap(),
                };
                self.app
                    .execute_contract(who, token, &send, &[])
                    .map_err(Failure)
            }
            None => self.execute_with_funds(
                &who,
                &ExecuteMsg::Bond { role, key },
                &coins(amount, DENOM),
            ),
        }
    }

    pub fn advance(&mut self, seconds: u64) {
        self.app.update_block(|b| {
            b.time = b.time.plus_seconds(seconds);
            b.height += seconds / 5 + 1;
        });
    }

    pub fn query<T: DeserializeOwned>(&self, msg: &QueryMsg) -> T {
        self.app
            .wrap()
            .query_wasm_smart(&self.staking, msg)
            .unwrap()
    }

    pub fn query_opt<T: DeserializeOwned>(&self, msg: &QueryMsg) -> Option<T> {
        self.app.wrap().query_wasm_smart(&self.staking, msg).ok()
    }

    pub fn operator(&self, name: &str) -> OperatorResponse {
        self.query(&QueryMsg::Operator {
            address: self.addr(name).to_string(),
        })
    }

    pub fn totals(&self) -> TotalsResponse {
        self.query(&QueryMsg::Totals {})
    }

    pub fn balance(&self, who: &Addr) -> u128 {
        havn_testing::hai_balance(&self.app, self.token.as_ref(), DENOM, who)
    }

    /// Tokens held by the contract equal bonded + unbonding stake, always.
    pub fn assert_conserved(&self) {
        let t = self.totals();
        assert_eq!(
            self.balance(&self.staking),
            (t.node + t.validator + t.unbonding).u128(),
            "contract balance = bonded + unbonding"
        );
    }
}

/// The execution log as far as staking reads it: job 42 (workflow 3, version `[7; 32]`, input
/// `[8; 32]`, node "node", claimed output `[9; 32]`), stored as the real log serializes a `Job`.
/// Executing it with a job replaces the job. The real pair runs in `integration-tests` and on
/// the devnet.
pub mod stand_in_log {
    use cosmwasm_std::{
        to_json_binary, Binary, Deps, DepsMut, Env, HexBinary, MessageInfo, Response, StdError,
        StdResult,
    };

    pub const JOB: u64 = 42;
    const KEY: &[u8] = b"job";

    pub fn job(addr: impl Fn(&str) -> cosmwasm_std::Addr, status: &str) -> serde_json::Value {
        serde_json::json!({
            "id": JOB,
            "workflow_id": 3,
            "version": 1,
            "version_hash": HexBinary::from([7u8; 32]),
            "caller": addr("caller"),
            "input_hash": HexBinary::from([8u8; 32]),
            "fee": "1000",
            "creator": addr("creator"),
            "split": {"creator": 4500, "upstream": 2000, "node": 2500, "validator": 500, "treasury": 500},
            "royalty_stack": [],
            "requested_height": 12345,
            "deadline": "1700000000000000000",
            "status": status,
            "result": {
                "node": addr("node"),
                "output_hash": HexBinary::from([9u8; 32]),
                "attempt": 1,
                "executor": "builtin:digest",
                "device": "cpu",
                "signature": Binary::from(vec![1u8; 64]),
            },
            "window_ends": null,
        })
    }

    pub fn instantiate(
        deps: DepsMut,
        _: Env,
        _: MessageInfo,
        job: serde_json::Value,
    ) -> StdResult<Response> {
        deps.storage.set(KEY, job.to_string().as_bytes());
        Ok(Response::new())
    }

    pub fn execute(
        deps: DepsMut,
        env: Env,
        info: MessageInfo,
        job: serde_json::Value,
    ) -> StdResult<Response> {
        instantiate(deps, env, info, job)
    }

    pub fn query(deps: Deps, _: Env, msg: serde_json::Value) -> StdResult<Binary> {
        let job: serde_json::Value =
            serde_json::from_slice(&deps.storage.get(KEY).unwrap_or_default())
                .map_err(|e| StdError::generic_err(e.to_string()))?;
        if msg["job"]["id"] != job["id"] {
            return Err(StdError::generic_err("job not found"));
        }
        to_json_binary(&job)
    }
}
