//! The gRPC services: thin adapters between the wire and `Core`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use havn_mesh_common::artifacts::ArtifactDir;
use havn_mesh_common::keys;
use havn_mesh_common::operators::OperatorSet;
use havn_mesh_proto::v1::{
    artifact_service_server::ArtifactService, job_service_server::JobService,
    node_link_server::NodeLink, node_message, router_message,
    settlement_service_server::SettlementService, submit_job_request,
    validator_link_server::ValidatorLink, validator_message, CancelJobRequest, CancelJobResponse,
    Challenge, Chunk, FetchRequest, GetJobRequest, GetJobResponse, JobEvent, JobState,
    ListDeadLettersRequest, ListDeadLettersResponse, ListSettlementsRequest,
    ListSettlementsResponse, NodeMessage, RedriveJobRequest, RedriveJobResponse, RouterMessage,
    SubmitJobRequest, SubmitJobResponse, ValidatorMessage, VerifyTask, WatchJobRequest, Welcome,
};
use havn_types::mesh::hello_digest;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::Stream;
use tonic::{Request, Response, Status, Streaming};

use crate::config::RouterConfig;
use crate::core::{event_of, Core};
use crate::store::Store;

type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// Shared by every service.
#[derive(Clone)]
pub struct Shared {
    pub core: Arc<Mutex<Core>>,
    pub cfg: Arc<RouterConfig>,
    pub operators: Arc<dyn OperatorSet>,
    pub artifacts: ArtifactDir,
    pub store: Store,
    pub settlement: Arc<dyn crate::settlement::Settlement>,
    /// Open `WatchJob` streams by peer (a connection's address).
    pub watchers: Arc<Mutex<HashMap<SocketAddr, usize>>>,
}

/// One open `WatchJob` stream, counted against its connection until dropped.
struct Watching {
    watchers: Arc<Mutex<HashMap<SocketAddr, usize>>>,
    peer: Option<SocketAddr>,
}

impl Watching {
    /// Counts a new stream from `peer`, or says why not (its connection has `max` open).
    fn open(
        watchers: &Arc<Mutex<HashMap<SocketAddr, usize>>>,
        peer: Option<SocketAddr>,
        max: usize,
    ) -> Result<Self, Status> {
        if let Some(peer) = peer {
            let mut open = watchers.lock().unwrap_or_else(|e| e.into_inner());
            let n = open.entry(peer).or_default();
            if *n >= max {
                return Err(Status::resource_exhausted(format!(
                    "this connection already has {max} WatchJob streams open: close some first"
                )));
            }
            *n += 1;
        }
        Ok(Watching {
            watchers: watchers.clone(),
            peer,
        })
    }
}

impl Drop for Watching {
    fn drop(&mut self) {
        if let Some(peer) = self.peer {
            let mut open = self.watchers.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(n) = open.get_mut(&peer) {
                *n -= 1;
                if *n == 0 {
                    open.remove(&peer);
                }
            }
        }
    }
}

/// How long a watcher may leave an event unread before its stream is closed (so a client that
/// stopped reading holds nothing for long).
const WATCH_SEND_TIMEOUT: Duration = Duration::from_secs(60);

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Core> {
        crate::core::lock(&self.core)
    }
}

fn hash32(bytes: &[u8], what: &str) -> Result<[u8; 32], Status> {
    bytes.try_into().map_err(|_| {
        Status::invalid_argument(format!("{what} must be 32 bytes, got {}", bytes.len()))
    })
}

// ---- JobService ----

#[tonic::async_trait]
impl JobService for Shared {
    async fn submit_job(
        &self,
        request: Request<SubmitJobRequest>,
    ) -> Result<Response<SubmitJobResponse>, Status> {
        let mut req = request.into_inner();
        let workflow = req
            .workflow
            .as_ref()
            .ok_or_else(|| Status::invalid_argument("workflow is required"))?;
        let version = hash32(&workflow.version_hash, "workflow.version_hash")?;
        let manifest = self
            .artifacts
            .get(&version)
            .map_err(|e| Status::internal(e.to_string()))?
            .ok_or_else(|| {
                Status::not_found(format!(
                    "unknown workflow version {}: no manifest with that hash here",
                    hex::encode(version)
                ))
            })?;
        let pipeline = havn_mesh_common::pipeline::Manifest::parse(&manifest)
            .map_err(|e| {
                Status::failed_precondition(format!(
                    "workflow version {}: {e}",
                    hex::encode(version)
                ))
            })?
            .pipeline
            .kind;
        let input = match req.input.take() {
            Some(submit_job_request::Input::InlineInput(bytes)) => {
                if bytes.len() > self.cfg.max_input_bytes {
                    return Err(Status::invalid_argument(format!(
                        "input is {} bytes; the limit is {} (send input_hash for larger inputs)",
                        bytes.len(),
                        self.cfg.max_input_bytes
                    )));
                }
                bytes
            }
            Some(submit_job_request::Input::InputHash(hash)) => {
                let hash = hash32(&hash, "input_hash")?;
                self.artifacts
                    .get(&hash)
                    .map_err(|e| Status::internal(e.to_string()))?
                    .ok_or_else(|| {
                        Status::not_found(format!("no input with hash {} here", hex::encode(hash)))
                    })?
                    .to_vec()
            }
            None => {
                return Err(Status::invalid_argument(
                    "input is required (inline_input or input_hash)",
                ))
            }
        };
        self.settlement
            .check_request(&req, havn_mesh_common::sha256(&input))
            .await
            .map_err(Status::failed_precondition)?;
        let (job_id, durable) = self.lock().submit(req, input, pipeline)?;
        durable
            .await
            .map_err(|_| Status::internal("job store stopped"))?
            .map_err(|e| Status::internal(format!("job store: {e}")))?;
        Ok(Response::new(SubmitJobResponse {
            job_id,
            state: JobState::Queued as i32,
        }))
    }

    type WatchJobStream = BoxStream<JobEvent>;

    async fn watch_job(
        &self,
        request: Request<WatchJobRequest>,
    ) -> Result<Response<Self::WatchJobStream>, Status> {
        let peer = request.remote_addr();
        let r = request.into_inner();
        let id = r.job_id;
        let readable = self.readable(id, &r.pubkey, &r.signature)?;
        let show = move |e: JobEvent| if readable { e } else { redacted(e) };
        let watched = self.lock().watch(id)?;
        let (tx, rx) = mpsc::channel(16);
        match watched {
            Some((first, mut events)) => {
                let watching =
                    Watching::open(&self.watchers, peer, self.cfg.max_watchers_per_connection)?;
                tokio::spawn(async move {
                    let _watching = watching;
                    let send = |e: JobEvent| {
                        let tx = tx.clone();
                        async move {
                            tx.send_timeout(Ok(show(e)), WATCH_SEND_TIMEOUT)
                                .await
                                .is_err()
                        }
                    };
                    let done = first.done;
                    if send(first).await || done {
                        return;
                    }
                    loop {
                        // A client that closed its stream frees its place at once.
                        let next = tokio::select! {
                            next = events.recv() => next,
                            _ = tx.closed() => return,
                        };
                        match next {
                            Ok(e) => {
                                let done = e.done;
                                if send(e).await || done {
                                    return;
                                }
                            }
                            // Events are whole snapshots: skipping some loses nothing.
                            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                            Err(_) => return,
                        }
                    }
                });
            }
            None => {
                let rec = self
                    .store
                    .job(id)
                    .map_err(|e| Status::internal(e.to_string()))?
                    .ok_or_else(|| Status::not_found(format!("job {id} is unknown")))?;
                let on_chain = self.settlement.on_chain();
                let _ = tx.send(Ok(show(event_of(&rec, (0, 0), on_chain)))).await;
            }
        }
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn cancel_job(
        &self,
        request: Request<CancelJobRequest>,
    ) -> Result<Response<CancelJobResponse>, Status> {
        let r = request.into_inner();
        self.lock().cancel(r.job_id, &r.pubkey, &r.signature)?;
        Ok(Response::new(CancelJobResponse {
            state: JobState::Cancelled as i32,
        }))
    }

    async fn get_job(
        &self,
        request: Request<GetJobRequest>,
    ) -> Result<Response<GetJobResponse>, Status> {
        let r = request.into_inner();
        let id = r.job_id;
        let readable = self.readable(id, &r.pubkey, &r.signature)?;
        let event = match self.lock().get(id) {
            Some(e) => e,
            None => event_of(
                &self
                    .store
                    .job(id)
                    .map_err(|e| Status::internal(e.to_string()))?
                    .ok_or_else(|| Status::not_found(format!("job {id} is unknown")))?,
                (0, 0),
                self.settlement.on_chain(),
            ),
        };
        let event = if readable { event } else { redacted(event) };
        Ok(Response::new(GetJobResponse { job: Some(event) }))
    }
}

impl Shared {
    /// Whether this read request may see job `id`'s output (`Core::may_read`); the caller of an
    /// ended job comes from the store.
    fn readable(&self, id: u64, pubkey: &[u8], signature: &[u8]) -> Result<bool, Status> {
        let caller = self.lock().caller(id);
        let caller = match caller {
            Some(c) => c,
            None => match self.store.job(id) {
                Ok(Some(rec)) => rec.caller,
                Ok(None) => return Err(Status::not_found(format!("job {id} is unknown"))),
                Err(e) => return Err(Status::internal(e.to_string())),
            },
        };
        Ok(self.lock().may_read(id, &caller, pubkey, signature))
    }
}

/// The event without the output's bytes: what anyone but the caller sees (the output hash is
/// public anyway: the validators sign it and the chain records it).
fn redacted(mut e: JobEvent) -> JobEvent {
    if let Some(output) = e.output.as_mut() {
        output.output.clear();
    }
    e
}

// ---- handshakes ----

/// Sends a challenge and checks the answer: a staked operator (of the role) signing it.
async fn authenticate(
    operators: &dyn OperatorSet,
    nonce: &[u8; 32],
    operator: &str,
    signature: &[u8],
    validator: bool,
) -> Result<(), Status> {
    let op = operators
        .get(operator)
        .ok_or_else(|| Status::permission_denied(format!("{operator} is not a staked operator")))?;
    let staked = if validator {
        op.is_validator()
    } else {
        op.is_node()
    };
    if !staked {
        return Err(Status::permission_denied(format!(
            "{operator} has no {} stake",
            if validator { "validator" } else { "node" }
        )));
    }
    if !keys::verify(&op.pubkey, &hello_digest(nonce, operator), signature) {
        return Err(Status::permission_denied(format!(
            "the signature is not by {operator}'s registered key"
        )));
    }
    Ok(())
}

const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

/// The opening of every link: send a fresh challenge (built by `challenge`), wait for the hello
/// (picked out of the first message by `hello`), and check it signs the challenge with a staked
/// key. On failure the stream ends with the reason and `None` is returned.
async fn handshake<In, Out, H>(
    shared: &Shared,
    inbound: &mut Streaming<In>,
    tx: &mpsc::Sender<Result<Out, Status>>,
    challenge: impl FnOnce(Vec<u8>) -> Out,
    hello: impl FnOnce(In) -> Option<H>,
    credentials: impl Fn(&H) -> (&str, &[u8]),
    validator: bool,
) -> Option<H> {
    let mut nonce = [0u8; 32];
    keys::getrandom_fill(&mut nonce);
    tx.send(Ok(challenge(nonce.to_vec()))).await.ok()?;
    let role = if validator { "validator" } else { "node" };
    let Ok(Ok(Some(first))) = tokio::time::timeout(HELLO_TIMEOUT, inbound.message()).await else {
        let _ = tx
            .send(Err(Status::unauthenticated(format!(
                "expected a {role} hello within 10 s"
            ))))
            .await;
        return None;
    };
    let Some(h) = hello(first) else {
        let _ = tx
            .send(Err(Status::unauthenticated(format!(
                "the first message must be the {role} hello"
            ))))
            .await;
        return None;
    };
    let (operator, signature) = credentials(&h);
    if let Err(status) = authenticate(
        shared.operators.as_ref(),
        &nonce,
        operator,
        signature,
        validator,
    )
    .await
    {
        tracing::warn!(operator, role, %status, "refused");
        let _ = tx.send(Err(status)).await;
        return None;
    }
    Some(h)
}

// ---- NodeLink ----

#[tonic::async_trait]
impl NodeLink for Shared {
    type ConnectStream = BoxStream<RouterMessage>;

    async fn connect(
        &self,
        request: Request<Streaming<NodeMessage>>,
    ) -> Result<Response<Self::ConnectStream>, Status> {
        let mut inbound = request.into_inner();
        let (tx, rx) = mpsc::channel(1024);
        let shared = self.clone();
        tokio::spawn(async move {
            let Some(hello) = handshake(
                &shared,
                &mut inbound,
                &tx,
                |nonce| RouterMessage {
                    body: Some(router_message::Body::Challenge(Challenge { nonce })),
                },
                |m: NodeMessage| match m.body {
                    Some(node_message::Body::Hello(h)) => Some(h),
                    _ => None,
                },
                |h| (h.operator.as_str(), h.signature.as_slice()),
                false,
            )
            .await
            else {
                return;
            };
            let welcome = RouterMessage {
                body: Some(router_message::Body::Welcome(Welcome {
                    heartbeat_interval_ms: shared.cfg.heartbeat_interval_ms,
                })),
            };
            if tx.send(Ok(welcome)).await.is_err() {
                return;
            }
            let operator = hello.operator.clone();
            let conn = shared.lock().node_connected(
                &operator,
                tx.clone(),
                hello.slots,
                hello.cached_versions,
                hello.pipelines,
            );
            let why = loop {
                let msg = match inbound.message().await {
                    Ok(Some(m)) => m,
                    Ok(None) => break "stream closed".to_string(),
                    Err(e) => break format!("stream error: {}", e.message()),
                };
                let mut core = shared.lock();
                core.node_seen(&operator, conn);
                match msg.body {
                    Some(node_message::Body::Heartbeat(_)) | None => {}
                    Some(node_message::Body::Progress(p)) => {
                        core.progress(&operator, p.job_id, p.step, p.total_steps)
                    }
                    Some(node_message::Body::Result(output)) => {
                        core.result(&operator, msg.job_id, output)
                    }
                    Some(node_message::Body::Failure(f)) => {
                        core.node_failed_job(&operator, f.job_id, f.attempt, &f.reason)
                    }
                    Some(node_message::Body::HandBack(h)) => core.hand_back(&operator, h.job_id),
                    // A second hello changes nothing: the stream is already authenticated.
                    Some(node_message::Body::Hello(_)) => {}
                }
            };
            shared.lock().node_gone(&operator, conn, &why);
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

// ---- ValidatorLink ----

#[tonic::async_trait]
impl ValidatorLink for Shared {
    type ConnectStream = BoxStream<VerifyTask>;

    async fn connect(
        &self,
        request: Request<Streaming<ValidatorMessage>>,
    ) -> Result<Response<Self::ConnectStream>, Status> {
        let mut inbound = request.into_inner();
        let (tx, rx) = mpsc::channel(4096);
        let shared = self.clone();
        tokio::spawn(async move {
            let Some(hello) = handshake(
                &shared,
                &mut inbound,
                &tx,
                |challenge| VerifyTask {
                    challenge,
                    ..Default::default()
                },
                |m: ValidatorMessage| match m.body {
                    Some(validator_message::Body::Hello(h)) => Some(h),
                    _ => None,
                },
                |h| (h.operator.as_str(), h.signature.as_slice()),
                true,
            )
            .await
            else {
                return;
            };
            tracing::info!(
                validator = hello.operator,
                sample_commitment = hex::encode(&hello.sample_commitment),
                "validator sampling commitment"
            );
            let operator = hello.operator.clone();
            let conn = shared.lock().validator_connected(&operator, tx.clone());
            loop {
                match inbound.message().await {
                    Ok(Some(ValidatorMessage {
                        body: Some(validator_message::Body::Attestation(a)),
                    })) => shared.lock().attestation(&operator, a),
                    Ok(Some(_)) => {}
                    Ok(None) | Err(_) => break,
                }
            }
            shared.lock().validator_gone(&operator, conn);
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

// ---- ArtifactService ----

const CHUNK: usize = 1 << 20;

#[tonic::async_trait]
impl ArtifactService for Shared {
    type FetchStream = BoxStream<Chunk>;

    async fn fetch(
        &self,
        request: Request<FetchRequest>,
    ) -> Result<Response<Self::FetchStream>, Status> {
        let hash = hash32(&request.into_inner().hash, "hash")?;
        let bytes = self
            .artifacts
            .get(&hash)
            .map_err(|e| Status::internal(e.to_string()))?
            .ok_or_else(|| {
                Status::not_found(format!("artifact {} not found", hex::encode(hash)))
            })?;
        let chunks: Vec<Result<Chunk, Status>> = bytes
            .chunks(CHUNK)
            .map(|c| Ok(Chunk { data: c.to_vec() }))
            .collect();
        Ok(Response::new(Box::pin(tokio_stream::iter(chunks))))
    }
}

// ---- SettlementService ----

#[tonic::async_trait]
impl SettlementService for Shared {
    async fn list_settlements(
        &self,
        request: Request<ListSettlementsRequest>,
    ) -> Result<Response<ListSettlementsResponse>, Status> {
        let req = request.into_inner();
        let limit = match req.limit {
            0 => 50,
            l => l.min(500) as usize,
        };
        let batches = self
            .store
            .settlements(req.start_after, limit)
            .map_err(|e| Status::internal(e.to_string()))?;
        Ok(Response::new(ListSettlementsResponse { batches }))
    }

    async fn list_dead_letters(
        &self,
        request: Request<ListDeadLettersRequest>,
    ) -> Result<Response<ListDeadLettersResponse>, Status> {
        operator_only(&request, "list dead letters")?;
        let req = request.into_inner();
        let limit = match req.limit {
            0 => 50,
            l => l.min(500) as usize,
        };
        let dead_letters = self
            .store
            .dead_letters(req.start_after, limit)
            .map_err(|e| Status::internal(e.to_string()))?;
        Ok(Response::new(ListDeadLettersResponse { dead_letters }))
    }

    async fn redrive_job(
        &self,
        request: Request<RedriveJobRequest>,
    ) -> Result<Response<RedriveJobResponse>, Status> {
        operator_only(&request, "re-drive a job")?;
        let state = self.lock().redrive(request.into_inner().job_id)?;
        Ok(Response::new(RedriveJobResponse {
            state: state as i32,
        }))
    }
}

/// Operator calls answer only on the router's own machine: a loopback peer.
fn operator_only<T>(request: &Request<T>, what: &str) -> Result<(), Status> {
    match request.remote_addr() {
        Some(peer) if peer.ip().is_loopback() => Ok(()),
        peer => Err(Status::permission_denied(format!(
            "only the router's operator may {what}: call from the router's machine (loopback), not {}",
            peer.map_or("an unknown peer".to_string(), |p| p.ip().to_string())
        ))),
    }
}
