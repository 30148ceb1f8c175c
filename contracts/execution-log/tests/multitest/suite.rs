//! The execution log wired to the real registry and staking contracts, five validators with real
//! secp256k1 keys, and a stand-in payout contract that records what it receives.

use cosmwasm_schema::cw_serde;
use cosmwasm_std::{
    coin, coins, from_json, to_json_binary, Addr, Binary, Coin, Deps, DepsMut, Empty, Env,
    HexBinary, MessageInfo, Response, StdResult, Uint128,
};
use cw_multi_test::{App, AppResponse, ContractWrapper, Executor};
use cw_storage_plus::Item;
use havn_execution_log::msg::{
    ExecuteMsg, InstantiateMsg, JobResult, NodeClaim, QueryMsg, ReceiveMsg, RequestJobResponse,
    SignedAttestation,
};
use havn_execution_log::state::{Job, Params};
use havn_staking::msg::{ExecuteMsg as StakingMsg, KeyProof};
use havn_staking::state::Role;
use havn_types::keys::possession_digest;
use havn_types::mesh::ResultClaim;
use havn_types::{AssetUnchecked, Attestation, Check, Settlement, Verdict};
use havn_workflow_registry::msg::{ExecuteMsg as RegistryMsg, PublishMsg};
use k256::ecdsa::Signature;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

pub const DENOM: &str = "uhai";
pub const MIN: u128 = 1_000_000;
pub const PRICE: u128 = 100;
pub const VALIDATORS: usize = 5;

pub use havn_testing::{bytes, high_s_twin, key, sign, Failure};

pub fn hash(seed: u8) -> HexBinary {
    HexBinary::from(Sha256::digest([seed]).as_slice())
}

// ---- the stand-in payout contract ----

#[cw_serde]
pub struct Received {
    pub settlements: Vec<Settlement>,
    pub funds: Vec<Coin>,
    pub cw20: Option<(Addr, Uint128)>,
}

#[cw_serde]
enum PayoutExec {
    Distribute { settlements: Vec<Settlement> },
    Receive(cw20::Cw20ReceiveMsg),
    PayReexecutions { validator: String, count: u32 },
}

const RECEIVED: Item<Vec<Received>> = Item::new("received");
const POT_CLAIMS: Item<Vec<(String, u32)>> = Item::new("pot_claims");

fn payout_execute(
    deps: DepsMut,
    _env: Env,
    info: MessageInfo,
    msg: PayoutExec,
) -> StdResult<Response> {
    let received = match msg {
        PayoutExec::PayReexecutions { validator, count } => {
            let mut all = POT_CLAIMS.may_load(deps.storage)?.unwrap_or_default();
            all.push((validator, count));
            POT_CLAIMS.save(deps.storage, &all)?;
            return Ok(Response::new());
        }
        PayoutExec::Distribute { settlements } => Received {
            settlements,
            funds: info.funds,
            cw20: None,
        },
        PayoutExec::Receive(wrapper) => match from_json::<PayoutExec>(&wrapper.msg)? {
            PayoutExec::Distribute { settlements } => Received {
                settlements,
                funds: info.funds,
                cw20: Some((info.sender, wrapper.amount)),
            },
            _ => unreachable!("only Distribute comes with a cw20 Send"),
        },
    };
    let mut all = RECEIVED.may_load(deps.storage)?.unwrap_or_default();
    all.push(received);
    RECEIVED.save(deps.storage, &all)?;
    Ok(Response::new())
}

/// `{}`: every `Distribute` received; `{"pot_claims": true}`: every `PayReexecutions`.
#[cw_serde]
struct PayoutQuery {
    pot_claims: Option<bool>,
}

fn payout_query(deps: Deps, _env: Env, msg: PayoutQuery) -> StdResult<Binary> {
    match msg.pot_claims {
        Some(true) => to_json_binary(&POT_CLAIMS.may_load(deps.storage)?.unwrap_or_default()),
        _ => to_json_binary(&RECEIVED.may_load(deps.storage)?.unwrap_or_default()),
    }
}

fn payout_instantiate(_: DepsMut, _: Env, _: MessageInfo, _: Empty) -> StdResult<Response> {
    Ok(Response::new())
}

// ---- the suite ----

pub struct SuiteBuilder {
    cw20: bool,
    params: Params,
    stakes: Vec<u128>,
}

impl SuiteBuilder {
    pub fn new() -> Self {
        SuiteBuilder {
            cw20: false,
            params: Params::default(),
            stakes: vec![MIN; VALIDATORS],
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

    /// One validator per entry, with that stake.
    pub fn with_stakes(mut self, stakes: &[u128]) -> Self {
        self.stakes = stakes.to_vec();
        self
    }

    pub fn build(self) -> Suite {
        let mut app = App::default();
        let gov = app.api().addr_make("governance");
        let treasury = app.api().addr_make("treasury");
        let names: Vec<String> = (0..self.stakes.len())
            .map(|i| format!("validator-{i}"))
            .chain([
                "node".into(),
                "node-2".into(),
                "caller".into(),
                "creator".into(),
            ])
            .collect();
        let funded: Vec<Addr> = names.iter().map(|n| app.api().addr_make(n)).collect();
        let mut token = None;
        let asset = if self.cw20 {
            let balances: Vec<(Addr, u128)> =
                funded.iter().map(|a| (a.clone(), 1_000 * MIN)).collect();
            let addr = havn_testing::instantiate_hai(&mut app, &gov, &balances);
            token = Some(addr.clone());
            AssetUnchecked::Cw20(addr.to_string())
        } else {
            app.init_modules(|router, _, storage| {
                for a in &funded {
                    router
                        .bank
                        .init_balance(
                            storage,
                            a,
                            vec![coin(1_000 * MIN, DENOM), coin(1_000 * MIN, "uatom")],
                        )
                        .unwrap();
                }
            });
            AssetUnchecked::Native(DENOM.into())
        };

        let registry_code = app.store_code(Box::new(ContractWrapper::new(
            havn_workflow_registry::contract::execute,
            havn_workflow_registry::contract::instantiate,
            havn_workflow_registry::contract::query,
        )));
        let registry_msg = havn_workflow_registry::msg::InstantiateMsg {
            admin: gov.to_string(),
            asset: asset.clone(),
            treasury: treasury.to_string(),
            params: None,
        };
        let registry = app
            .instantiate_contract(
                registry_code,
                gov.clone(),
                &registry_msg,
                &[],
                "registry",
                None,
            )
            .unwrap();

        let staking_code = app.store_code(Box::new(ContractWrapper::new(
            havn_staking::contract::execute,
            havn_staking::contract::instantiate,
            havn_staking::contract::query,
        )));
        let staking_params = havn_staking::state::Params {
            min_stake_node: Uint128::new(MIN),
            min_stake_validator: Uint128::new(MIN),
            ..Default::default()
        };
        let staking_msg = havn_staking::msg::InstantiateMsg {
            admin: gov.to_string(),
            asset: asset.clone(),
            treasury: treasury.to_string(),
            execution_log: None,
            params: Some(staking_params),
        };
        let staking = app
            .instantiate_contract(
                staking_code,
                gov.clone(),
                &staking_msg,
                &[],
                "staking",
                None,
            )
            .unwrap();

        let payout_code = app.store_code(Box::new(ContractWrapper::new(
            payout_execute,
            payout_instantiate,
            payout_query,
        )));
        let payout = app
            .instantiate_contract(payout_code, gov.clone(), &Empty {}, &[], "payout", None)
            .unwrap();

        let log_code = app.store_code(Box::new(
            ContractWrapper::new(
                havn_execution_log::contract::execute,
                havn_execution_log::contract::instantiate,
                havn_execution_log::contract::query,
            )
            .with_migrate(havn_execution_log::contract::migrate),
        ));
        let msg = InstantiateMsg {
            admin: gov.to_string(),
            asset,
            registry: registry.to_string(),
            staking: staking.to_string(),
            payout: payout.to_string(),
            params: Some(self.params),
        };
        let log = app
            .instantiate_contract(
                log_code,
                gov.clone(),
                &msg,
                &[],
                "execution-log",
                Some(gov.to_string()),
            )
            .unwrap();
        app.execute_contract(
            gov.clone(),
            staking.clone(),
            &StakingMsg::UpdateConfig {
                admin: None,
                treasury: None,
                execution_log: Some(log.to_string()),
            },
            &[],
        )
        .unwrap();

        let mut suite = Suite {
            app,
            gov,
            registry,
            staking,
            payout,
            log,
            token,
            code_id: log_code,
        };
        for (i, stake) in self.stakes.iter().enumerate() {
            suite.bond(&format!("validator-{i}"), Role::Validator, *stake);
        }
        suite.bond("node", Role::Node, MIN);
        let creator = suite.addr("creator");
        let publish = PublishMsg {
            name: "txt2img".into(),
            content_hash: hash(200).to_hex(),
            price: Uint128::new(PRICE),
            split: None,
            dependencies: vec![],
            parent: None,
            artifacts: vec![],
            metadata: None,
            fingerprint: Some(havn_types::fingerprint::placeholder(&hash(200).to_hex())),
        };
        suite
            .app
            .execute_contract(
                creator,
                suite.registry.clone(),
                &RegistryMsg::Publish(publish),
                &[],
            )
            .unwrap();
        suite
    }
}

pub struct Suite {
    pub app: App,
    pub gov: Addr,
    pub registry: Addr,
    pub staking: Addr,
    pub payout: Addr,
    pub log: Addr,
    pub token: Option<Addr>,
    pub code_id: u64,
}

pub const WORKFLOW: u64 = 1;

/// A re-execution decided at the ladder's second rung.
pub const REEXECUTED: Check = Check::Reexecuted { rung: 1 };

impl Suite {
    pub fn addr(&self, name: &str) -> Addr {
        self.app.api().addr_make(name)
    }

    pub fn validator(&self, i: usize) -> Addr {
        self.addr(&format!("validator-{i}"))
    }

    /// Bonds with this name's key (proving possession on the first bond).
    pub fn bond(&mut self, name: &str, role: Role, amount: u128) {
        let who = self.addr(name);
        let first = self
            .app
            .wrap()
            .query_wasm_smart::<serde_json::Value>(
                &self.staking,
                &havn_staking::msg::QueryMsg::Operator {
                    address: who.to_string(),
                },
            )
            .is_err();
        let key_proof = first.then(|| {
            let digest = possession_digest(
                &self.app.block_info().chain_id,
                self.staking.as_str(),
                who.as_str(),
            );
            KeyProof {
                pubkey: Binary::from(key(name).verifying_key().to_encoded_point(true).as_bytes()),
                signature: bytes(&sign(&key(name), &digest)),
            }
        });
        match self.token.clone() {
            Some(token) => {
                let msg = to_json_binary(&havn_staking::msg::ReceiveMsg::Bond {
                    role,
                    key: key_proof,
                })
                .unwrap();
                let send = cw20::Cw20ExecuteMsg::Send {
                    contract: self.staking.to_string(),
                    amount: Uint128::new(amount),
                    msg,
                };
                self.app.execute_contract(who, token, &send, &[]).unwrap();
            }
            None => {
                self.app
                    .execute_contract(
                        who,
                        self.staking.clone(),
                        &StakingMsg::Bond {
                            role,
                            key: key_proof,
                        },
                        &coins(amount, DENOM),
                    )
                    .unwrap();
            }
        }
    }

    /// Starts unbonding `amount` of this operator's node stake.
    pub fn unbond(&mut self, name: &str, amount: u128) {
        let who = self.addr(name);
        self.app
            .execute_contract(
                who,
                self.staking.clone(),
                &StakingMsg::Unbond {
                    role: Role::Node,
                    amount: Uint128::new(amount),
                },
                &[],
            )
            .unwrap();
    }

    pub fn execute_with_funds(
        &mut self,
        sender: &Addr,
        msg: &ExecuteMsg,
        funds: &[Coin],
    ) -> Result<AppResponse, Failure> {
        self.app
            .execute_contract(sender.clone(), self.log.clone(), msg, funds)
            .map_err(Failure)
    }

    pub fn execute(&mut self, sender: &Addr, msg: &ExecuteMsg) -> Result<AppResponse, Failure> {
        self.execute_with_funds(sender, msg, &[])
    }

    /// `caller` requests a run of the workflow paying `fee`; returns the job id.
    pub fn request(&mut self, fee: u128, input: u8) -> Result<u64, Failure> {
        let caller = self.addr("caller");
        let res = match self.token.clone() {
            Some(token) => {
                let msg = to_json_binary(&ReceiveMsg::RequestJob {
                    workflow_id: WORKFLOW,
                    input_hash: hash(input),
                })
                .unwrap();
                let send = cw20::Cw20ExecuteMsg::Send {
                    contract: self.log.to_string(),
                    amount: Uint128::new(fee),
                    msg,
                };
                self.app
                    .execute_contract(caller, token, &send, &[])
                    .map_err(Failure)?
            }
            None => self.execute_with_funds(
                &caller,
                &ExecuteMsg::RequestJob {
                    workflow_id: WORKFLOW,
                    input_hash: hash(input),
                },
                &coins(fee, DENOM),
            )?,
        };
        // The log's data is wrapped by cw20's Send; read the job id from the event instead.
        let id = res
            .events
            .iter()
            .flat_map(|e| &e.attributes)
            .find(|a| a.key == "job_id")
            .map(|a| a.value.parse().unwrap())
            .or_else(|| {
                res.data
                    .map(|d| from_json::<RequestJobResponse>(d).unwrap().job_id)
            })
            .unwrap();
        Ok(id)
    }

    pub fn job(&self, id: u64) -> Job {
        self.query(&QueryMsg::Job { id })
    }

    /// The digest a validator signs for `job` with this result, as if signed on chain `chain_id`
    /// for contract `log` and job `job_id` (the honest values, or others to build replays).
    pub fn digest_for(
        &self,
        job: &Job,
        node: &Addr,
        output: &HexBinary,
        (verdict, check): (Verdict, Check),
        (chain_id, log, job_id): (&str, &Addr, u64),
    ) -> [u8; 32] {
        Attestation {
            chain_id,
            execution_log: log.as_str(),
            job_id,
            workflow_id: job.workflow_id,
            version_hash: &job.version_hash.to_array().unwrap(),
            node: node.as_str(),
            input_hash: &job.input_hash.to_array().unwrap(),
            output_hash: &output.to_array().unwrap(),
            verdict,
            check,
        }
        .digest()
        .0
    }

    /// Validator `i`'s signature on the honest digest for this result.
    pub fn signature(
        &self,
        i: usize,
        job_id: u64,
        node: &Addr,
        output: &HexBinary,
        vote: (Verdict, Check),
    ) -> Signature {
        let job = self.job(job_id);
        let digest = self.digest_for(
            &job,
            node,
            output,
            vote,
            (&self.app.block_info().chain_id, &self.log, job_id),
        );
        sign(&key(&format!("validator-{i}")), &digest)
    }

    /// `signer`'s result claim for `job_id` with this output (attempt 1, the digest executor).
    pub fn claim(&self, signer: &str, job_id: u64, output: &HexBinary) -> NodeClaim {
        let digest = ResultClaim {
            job_id,
            attempt: 1,
            output_hash: &output.to_array().unwrap(),
            executor: "builtin:digest",
            device: "cpu",
        }
        .digest();
        NodeClaim {
            attempt: 1,
            executor: "builtin:digest".into(),
            device: "cpu".into(),
            signature: bytes(&sign(&key(signer), &digest)),
        }
    }

    /// A result for `job_id` by "node" (claim signed) with output `hash(output)`, and each
    /// listed validator's signed vote.
    pub fn result_votes(
        &self,
        job_id: u64,
        output: u8,
        votes: &[(usize, Verdict, Check)],
    ) -> JobResult {
        let node = self.addr("node");
        let output = hash(output);
        let attestations = votes
            .iter()
            .map(|&(i, verdict, check)| SignedAttestation {
                validator: self.validator(i).to_string(),
                verdict,
                check,
                signature: bytes(&self.signature(i, job_id, &node, &output, (verdict, check))),
            })
            .collect();
        JobResult {
            job_id,
            node: node.to_string(),
            claim: self.claim("node", job_id, &output),
            output_hash: output,
            attestations,
        }
    }

    /// The same verdict from every listed validator: Valid after the structural checks, Invalid
    /// after re-executing (how validators sign each in practice).
    pub fn result(
        &self,
        job_id: u64,
        output: u8,
        verdict: Verdict,
        signers: &[usize],
    ) -> JobResult {
        let check = match verdict {
            Verdict::Valid => Check::Structural,
            Verdict::Invalid => REEXECUTED,
        };
        let votes: Vec<_> = signers.iter().map(|&i| (i, verdict, check)).collect();
        self.result_votes(job_id, output, &votes)
    }

    pub fn record(&mut self, results: Vec<JobResult>) -> Result<AppResponse, Failure> {
        let relayer = self.addr("relayer");
        self.execute(&relayer, &ExecuteMsg::RecordExecution { results })
    }

    /// Anyone finalizes these jobs.
    pub fn finalize(&mut self, job_ids: &[u64]) -> Result<AppResponse, Failure> {
        let anyone = self.addr("anyone");
        self.execute(
            &anyone,
            &ExecuteMsg::Finalize {
                job_ids: job_ids.to_vec(),
            },
        )
    }

    pub fn challenge(&mut self, sender: &str, result: JobResult) -> Result<AppResponse, Failure> {
        let sender = self.addr(sender);
        self.execute(&sender, &ExecuteMsg::Challenge { result })
    }

    pub fn params(&self) -> Params {
        self.query(&QueryMsg::Params {})
    }

    /// Moves the chain past a recorded job's challenge window (and a second per block).
    pub fn pass_window(&mut self) {
        let blocks = self.params().challenge_window;
        self.advance_blocks(blocks);
    }

    pub fn advance_blocks(&mut self, blocks: u64) {
        self.app.update_block(|b| {
            b.height += blocks;
            b.time = b.time.plus_seconds(blocks);
        });
    }

    /// Records, waits out the window and finalizes: the whole happy path.
    pub fn settle(&mut self, results: Vec<JobResult>) -> AppResponse {
        let ids: Vec<u64> = results.iter().map(|r| r.job_id).collect();
        self.record(results).unwrap();
        self.pass_window();
        self.finalize(&ids).unwrap()
    }

    pub fn stake(&self, name: &str) -> havn_staking::msg::OperatorResponse {
        self.app
            .wrap()
            .query_wasm_smart(
                &self.staking,
                &havn_staking::msg::QueryMsg::Operator {
                    address: self.addr(name).to_string(),
                },
            )
            .unwrap()
    }

    /// Every `PayReexecutions` the stand-in payout received: (validator, count).
    pub fn pot_claims(&self) -> Vec<(String, u32)> {
        self.app
            .wrap()
            .query_wasm_smart(
                &self.payout,
                &PayoutQuery {
                    pot_claims: Some(true),
                },
            )
            .unwrap()
    }

    pub fn received(&self) -> Vec<Received> {
        self.app
            .wrap()
            .query_wasm_smart(&self.payout, &Empty {})
            .unwrap()
    }

    pub fn query<T: DeserializeOwned>(&self, msg: &QueryMsg) -> T {
        self.app.wrap().query_wasm_smart(&self.log, msg).unwrap()
    }

    pub fn balance(&self, who: &Addr) -> u128 {
        havn_testing::hai_balance(&self.app, self.token.as_ref(), DENOM, who)
    }

    pub fn advance(&mut self, seconds: u64) {
        self.app.update_block(|b| {
            b.time = b.time.plus_seconds(seconds);
            b.height += 1;
        });
    }
}

/// Validator `i` attests job `job_id` directly (`Attest`) about "node"'s output `hash(9)`.
pub fn attest(suite: &mut Suite, i: usize, job_id: u64, verdict: Verdict, check: Check) {
    let (v, node) = (suite.validator(i), suite.addr("node").to_string());
    suite
        .execute(
            &v,
            &ExecuteMsg::Attest {
                job_id,
                node,
                output_hash: hash(9),
                verdict,
                check,
            },
        )
        .unwrap();
}

/// What a slash of `fraction` takes from `stake` (staking rounds down).
pub fn slashed(stake: u128, fraction: cosmwasm_std::Decimal) -> u128 {
    Uint128::new(stake).mul_floor(fraction).u128()
}

/// (job id, outcome, reason) from the `havn_job` events of a response.
pub fn outcomes(res: &AppResponse) -> Vec<(u64, String, String)> {
    havn_testing::job_outcomes(res)
}

/// (job id, outcome, reason) from the `havn_finalize` events of a response.
pub fn finalize_outcomes(res: &AppResponse) -> Vec<(u64, String, String)> {
    havn_testing::outcomes_of(res, "wasm-havn_finalize")
}
