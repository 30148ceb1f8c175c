//! A probe for sub-message semantics. Every step appends to a trace in storage, so what survives
//! a rollback is visible afterwards: `Run` appends its label, then dispatches its `calls` to itself
//! as sub-messages; `fail` makes it error after writing. Replies append `reply:<id>:ok|err` and
//! can fail in turn.

use cosmwasm_schema::cw_serde;
#[cfg(not(feature = "library"))]
use cosmwasm_std::entry_point;
use cosmwasm_std::{
    to_json_binary, Binary, Deps, DepsMut, Empty, Env, MessageInfo, Reply, ReplyOn, Response,
    StdError, StdResult, SubMsg, SubMsgResult, WasmMsg,
};
use cw_storage_plus::Item;

const TRACE: Item<Vec<String>> = Item::new("trace");
/// Reply ids whose reply must fail.
const FAILING_REPLIES: Item<Vec<u64>> = Item::new("failing_replies");

#[cw_serde]
pub enum ExecuteMsg {
    Run(Step),
}

#[cw_serde]
pub struct Step {
    pub label: String,
    #[serde(default)]
    pub fail: bool,
    #[serde(default)]
    pub calls: Vec<Call>,
}

#[cw_serde]
pub struct Call {
    pub id: u64,
    pub reply_on: ReplyWhen,
    pub step: Step,
    /// This call's reply errors (after writing its trace entry).
    #[serde(default)]
    pub fail_reply: bool,
}

#[cw_serde]
pub enum ReplyWhen {
    Always,
    Success,
    Error,
    Never,
}

#[cw_serde]
pub enum QueryMsg {
    Trace {},
}

fn push(deps: &mut DepsMut, entry: String) -> StdResult<()> {
    let mut trace = TRACE.may_load(deps.storage)?.unwrap_or_default();
    trace.push(entry);
    TRACE.save(deps.storage, &trace)
}

#[cfg_attr(not(feature = "library"), entry_point)]
pub fn instantiate(
    deps: DepsMut,
    _env: Env,
    _info: MessageInfo,
    _msg: Empty,
) -> StdResult<Response> {
    TRACE.save(deps.storage, &vec![])?;
    FAILING_REPLIES.save(deps.storage, &vec![])?;
    Ok(Response::new())
}

#[cfg_attr(not(feature = "library"), entry_point)]
pub fn execute(
    mut deps: DepsMut,
    env: Env,
    _info: MessageInfo,
    msg: ExecuteMsg,
) -> StdResult<Response> {
    let ExecuteMsg::Run(step) = msg;
    push(&mut deps, step.label.clone())?;
    if step.fail {
        return Err(StdError::generic_err(format!("{} failed", step.label)));
    }
    let mut response = Response::new().add_attribute("step", &step.label);
    for call in step.calls {
        if call.fail_reply {
            let mut failing = FAILING_REPLIES.load(deps.storage)?;
            failing.push(call.id);
            FAILING_REPLIES.save(deps.storage, &failing)?;
        }
        let msg = WasmMsg::Execute {
            contract_addr: env.contract.address.to_string(),
            msg: to_json_binary(&ExecuteMsg::Run(call.step))?,
            funds: vec![],
        };
        let mut sub = SubMsg::new(msg);
        sub.id = call.id;
        sub.reply_on = match call.reply_on {
            ReplyWhen::Always => ReplyOn::Always,
            ReplyWhen::Success => ReplyOn::Success,
            ReplyWhen::Error => ReplyOn::Error,
            ReplyWhen::Never => ReplyOn::Never,
        };
        response = response.add_submessage(sub);
    }
    Ok(response)
}

#[cfg_attr(not(feature = "library"), entry_point)]
pub fn reply(mut deps: DepsMut, _env: Env, reply: Reply) -> StdResult<Response> {
    let outcome = match reply.result {
        SubMsgResult::Ok(_) => "ok",
        SubMsgResult::Err(_) => "err",
    };
    push(&mut deps, format!("reply:{}:{outcome}", reply.id))?;
    if FAILING_REPLIES.load(deps.storage)?.contains(&reply.id) {
        return Err(StdError::generic_err(format!("reply {} failed", reply.id)));
    }
    Ok(Response::new())
}

#[cfg_attr(not(feature = "library"), entry_point)]
pub fn query(deps: Deps, _env: Env, msg: QueryMsg) -> StdResult<Binary> {
    match msg {
        QueryMsg::Trace {} => to_json_binary(&TRACE.load(deps.storage)?),
    }
}
