//! The mesh end to end over localhost sockets: a router, nodes and validators talking real gRPC,
//! with real keys. Nodes and validators run in their own runtimes so a test can kill one
//! abruptly; the restart test runs the `havn-router` binary and sends it SIGKILL.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use havn_mesh_common::keys;
use havn_mesh_common::operators::{FileOperators, Operator, OperatorSet};
use havn_mesh_common::pipeline::{
    digest_manifest, DigestExecutor, ExecError, Executor, Executors, JobInput, Manifest,
};
use havn_mesh_proto::v1::{
    job_service_client::JobServiceClient, node_link_client::NodeLinkClient, node_message,
    router_message, settlement_service_client::SettlementServiceClient, submit_job_request,
    CancelJobRequest, GetJobRequest, JobEvent, JobState, ListSettlementsRequest, NodeHello,
    NodeMessage, SubmitJobRequest, Verdict, WatchJobRequest, WorkflowRef,
};
use havn_node::{Node, NodeConfig};
use havn_router::{Router, RouterConfig};
use havn_types::mesh::hello_digest;
use havn_validator::{Validator, ValidatorConfig};
use k256::ecdsa::SigningKey;
use tonic::transport::Channel;
use tonic::Code;

const CHAIN: &str = "havn-devnet-1";
const LOG: &str = "wasm1executionlog";

fn key(name: &str) -> SigningKey {
    SigningKey::from_slice(&havn_mesh_common::sha256(format!("e2e/{name}").as_bytes())).unwrap()
}

fn operators(nodes: usize, validators: usize) -> FileOperators {
    let node = (0..nodes).map(|i| Operator {
        address: format!("node-{i}"),
        pubkey: keys::pubkey(&key(&format!("node-{i}"))),
        node_stake: 1_000,
        validator_stake: 0,
    });
    let val = (0..validators).map(|i| Operator {
        address: format!("validator-{i}"),
        pubkey: keys::pubkey(&key(&format!("validator-{i}"))),
        node_stake: 0,
        validator_stake: 1_000,
    });
    FileOperators::from_operators(node.chain(val))
}

/// A daemon in its own runtime, so it can be stopped gracefully or killed.
struct Daemon {
    runtime: Option<tokio::runtime::Runtime>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Daemon {
    fn spawn<F: std::future::Future<Output = ()> + Send + 'static>(
        make: impl FnOnce(tokio::sync::oneshot::Receiver<()>) -> F,
    ) -> Daemon {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel();
        runtime.spawn(make(rx));
        Daemon {
            runtime: Some(runtime),
            stop: Some(tx),
        }
    }

    /// Abrupt death: every task and socket dropped at once.
    fn kill(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.kill();
    }
}

struct Net {
    dir: tempfile::TempDir,
    operators: Arc<FileOperators>,
    router: Option<Router>,
    url: String,
    /// How nodes and validators dial `url`.
    tls: havn_mesh_common::tls::ClientTls,
    version: [u8; 32],
}

fn router_config(dir: &std::path::Path) -> RouterConfig {
    RouterConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        metrics_listen: Some("127.0.0.1:0".parse().unwrap()),
        data_dir: dir.join("router"),
        artifacts_dir: dir.join("router/artifacts"),
        chain_id: CHAIN.into(),
        execution_log: LOG.into(),
        heartbeat_interval_ms: 200,
        lease_ms: 10_000,
        settlement_batch: 20,
        settlement_interval_ms: 100,
        verify_retry_ms: 2_000,
        ..RouterConfig::default()
    }
}

impl Net {
    async fn start(nodes: usize, validators: usize, cfg: impl FnOnce(&mut RouterConfig)) -> Net {
        Self::settling(
            nodes,
            validators,
            cfg,
            Arc::new(havn_router::settlement::StoredOnly),
        )
        .await
    }

    /// A router whose batches go to `settlement`.
    async fn settling(
        nodes: usize,
        validators: usize,
        cfg: impl FnOnce(&mut RouterConfig),
        settlement: Arc<dyn havn_router::settlement::Settlement>,
    ) -> Net {
        let dir = tempfile::tempdir().unwrap();
        let operators = Arc::new(operators(nodes, validators));
        let mut config = router_config(dir.path());
        cfg(&mut config);
        let router = Router::start_with(config, operators.clone(), settlement)
            .await
            .unwrap();
        let (manifest, version) = digest_manifest("e2e", 10);
        router.artifacts.put(&manifest).unwrap();
        let url = format!("http://{}", router.addr);
        Net {
            dir,
            operators,
            router: Some(router),
            url,
            tls: Default::default(),
            version,
        }
    }

    fn node(&self, i: usize, executors: Executors) -> Daemon {
        self.node_with_metrics(i, executors).0
    }

    fn node_with_metrics(
        &self,
        i: usize,
        executors: Executors,
    ) -> (Daemon, Arc<havn_node::NodeMetrics>) {
        let cfg = NodeConfig {
            routers: vec![self.url.clone()],
            operator: format!("node-{i}"),
            slots: 4,
            cache_dir: self.dir.path().join(format!("node-{i}")),
            drain_timeout_ms: 2_000,
            tls: self.tls.clone(),
            ..NodeConfig::default()
        };
        let node = Node::new(cfg, key(&format!("node-{i}")), executors).unwrap();
        let metrics = node.metrics.clone();
        let daemon = Daemon::spawn(move |stop| async move {
            node.run(async {
                let _ = stop.await;
            })
            .await
        });
        (daemon, metrics)
    }

    fn validator(&self, i: usize) -> Daemon {
        self.validator_with(i, |_| Executors::builtin())
    }

    /// A validator (sampling every job) with the executors `make` builds on its cache dir.
    fn validator_with(&self, i: usize, make: impl FnOnce(&std::path::Path) -> Executors) -> Daemon {
        // Every job re-executed: these tests are about what a re-execution finds; the shipped
        // sample rate is `a_faking_node_at_the_shipped_defaults_is_caught_as_the_model_says`'s.
        self.validator_sampling(i, make, 1.0)
    }

    /// A validator at the shipped defaults (its sample rate), with a fixed sample secret so the
    /// draw, and the test, are the same every run.
    fn validator_at_defaults(&self, i: usize) -> Daemon {
        let rate = ValidatorConfig::default().sample_rate;
        self.validator_sampling(i, |_| Executors::builtin(), rate)
    }

    fn validator_sampling(
        &self,
        i: usize,
        make: impl FnOnce(&std::path::Path) -> Executors,
        sample_rate: f64,
    ) -> Daemon {
        let cache_dir = self.dir.path().join(format!("validator-{i}"));
        let executors = make(&cache_dir);
        let cfg = ValidatorConfig {
            routers: vec![self.url.clone()],
            operator: format!("validator-{i}"),
            sample_rate,
            sample_secret: Some(format!("{:02x}", i + 1).repeat(32)),
            cache_dir,
            tls: self.tls.clone(),
            ..ValidatorConfig::default()
        };
        let v = Validator::new(
            cfg,
            key(&format!("validator-{i}")),
            self.operators.clone(),
            executors,
        )
        .unwrap();
        Daemon::spawn(move |stop| async move {
            v.run(async {
                let _ = stop.await;
            })
            .await
        })
    }

    async fn client(&self) -> JobServiceClient<Channel> {
        client(&self.url).await
    }

    /// Submits a job with this input; returns its id.
    async fn submit(&self, c: &mut JobServiceClient<Channel>, input: &str) -> u64 {
        c.submit_job(self.request(input))
            .await
            .unwrap()
            .into_inner()
            .job_id
    }

    async fn channel(&self) -> Channel {
        Channel::from_shared(self.url.clone())
            .unwrap()
            .connect()
            .await
            .unwrap()
    }

    /// Waits until `n` nodes are connected to the in-process router.
    async fn wait_for_nodes(&self, n: usize) {
        let core = self.router.as_ref().unwrap().core.clone();
        for _ in 0..500 {
            if core.lock().unwrap().node_load().len() >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("{n} nodes did not connect");
    }

    fn request(&self, input: &str) -> SubmitJobRequest {
        self.request_for(self.version, input)
    }

    fn request_for(&self, version: [u8; 32], input: &str) -> SubmitJobRequest {
        SubmitJobRequest {
            workflow: Some(WorkflowRef {
                workflow_id: 1,
                version_hash: version.to_vec(),
            }),
            input: Some(submit_job_request::Input::InlineInput(
                input.as_bytes().to_vec(),
            )),
            seed: 7,
            caller: caller_address(),
            ..Default::default()
        }
    }
}

/// The key the test jobs are requested with, and its address.
fn caller_key() -> SigningKey {
    SigningKey::from_slice(&[42u8; 32]).unwrap()
}

fn caller_address() -> String {
    havn_chain::address_of(&keys::pubkey(&caller_key()), "havn")
        .unwrap()
        .to_string()
}

/// The caller's signed request to watch `job_id` (with its output).
fn watch(job_id: u64) -> WatchJobRequest {
    let digest = havn_types::mesh::read_digest(CHAIN, LOG, job_id);
    WatchJobRequest {
        job_id,
        pubkey: keys::pubkey(&caller_key()),
        signature: keys::sign(&caller_key(), &digest),
    }
}

/// The caller's signed request to read `job_id` (with its output).
fn get(job_id: u64) -> GetJobRequest {
    let w = watch(job_id);
    GetJobRequest {
        job_id,
        pubkey: w.pubkey,
        signature: w.signature,
    }
}

/// A cancel of `job_id` signed by `key`.
fn cancel(job_id: u64, key: &SigningKey) -> CancelJobRequest {
    let digest = havn_types::mesh::cancel_digest(CHAIN, LOG, job_id);
    CancelJobRequest {
        job_id,
        pubkey: keys::pubkey(key),
        signature: keys::sign(key, &digest),
    }
}

async fn client(url: &str) -> JobServiceClient<Channel> {
    let channel = Channel::from_shared(url.to_string())
        .unwrap()
        .connect()
        .await
        .unwrap();
    JobServiceClient::new(channel)
}

/// Watches a job until it ends; returns its last event.
async fn finish(client: &mut JobServiceClient<Channel>, job_id: u64) -> JobEvent {
    let mut stream = client.watch_job(watch(job_id)).await.unwrap().into_inner();
    let mut last = None;
    let wait = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(e) = stream.message().await.unwrap() {
            last = Some(e);
        }
    });
    wait.await.expect("job did not end within 60 s");
    last.expect("at least one event")
}

/// Checks an attestation the way the execution log will: the digest over this job's result,
/// signed by that validator's key.
fn attestation_verifies(
    net: &Net,
    job: &JobEvent,
    input: &str,
    a: &havn_mesh_proto::v1::Attestation,
) -> bool {
    let output = job.output.as_ref().unwrap();
    let verdict = match Verdict::try_from(a.verdict).unwrap() {
        Verdict::Valid => havn_types::Verdict::Valid,
        _ => havn_types::Verdict::Invalid,
    };
    let digest = havn_types::Attestation {
        chain_id: CHAIN,
        execution_log: LOG,
        job_id: job.job_id,
        workflow_id: 1,
        version_hash: &net.version,
        node: &output.node,
        input_hash: &havn_mesh_common::sha256(input.as_bytes()),
        output_hash: output.output_hash.as_slice().try_into().unwrap(),
        verdict,
        check: havn_types::Check::from_byte(a.check as u8),
    }
    .digest();
    let pubkey = net.operators.get(&a.validator).unwrap().pubkey;
    keys::verify(&pubkey, digest.as_bytes(), &a.signature)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_jobs_reach_a_quorum_and_settle() {
    let net = Net::start(3, 4, |_| {}).await;
    let _nodes: Vec<Daemon> = (0..3).map(|i| net.node(i, Executors::builtin())).collect();
    let _validators: Vec<Daemon> = (0..4).map(|i| net.validator(i)).collect();
    net.wait_for_nodes(3).await;
    let mut c = net.client().await;
    // Submitted all at once, so a queue forms and the load spreads over the nodes.
    let submits: Vec<_> = (0..200)
        .map(|i| {
            let input = format!("input {i}");
            let (mut c, req) = (c.clone(), net.request(&input));
            tokio::spawn(async move { (c.submit_job(req).await.unwrap().into_inner(), input) })
        })
        .collect();
    let mut jobs = Vec::new();
    for s in submits {
        let (r, input) = s.await.unwrap();
        assert_eq!(r.state, JobState::Queued as i32);
        jobs.push((r.job_id, input));
    }
    let ids: Vec<u64> = jobs.iter().map(|(id, _)| *id).collect();
    let mut nodes_used = BTreeSet::new();
    for (id, input) in &jobs {
        let e = finish(&mut c, *id).await;
        assert_eq!(
            JobState::try_from(e.state).unwrap(),
            JobState::Settled,
            "{e:?}"
        );
        assert!(e.attestations.len() >= 3, "quorum is 3 of 4: {e:?}");
        for a in &e.attestations {
            assert!(
                attestation_verifies(&net, &e, input, a),
                "attestation by {}",
                a.validator
            );
        }
        // The output is what the builtin pipeline computes for this input, independently rerun.
        let (manifest, _) = digest_manifest("e2e", 10);
        let expected = DigestExecutor
            .run(
                &Manifest::parse(&manifest).unwrap(),
                &JobInput {
                    input: input.as_bytes(),
                    seed: 7,
                    parameters: &BTreeMap::new(),
                },
                &mut |_, _| {},
                &AtomicBool::new(false),
            )
            .unwrap();
        assert_eq!(e.output.as_ref().unwrap().output, expected);
        nodes_used.insert(e.node.clone());
    }
    assert!(nodes_used.len() >= 2, "the load spread: {nodes_used:?}");
    // Every job is in exactly one settlement batch.
    let mut s = SettlementServiceClient::new(net.channel().await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let batches = s
        .list_settlements(ListSettlementsRequest {
            start_after: 0,
            limit: 500,
        })
        .await
        .unwrap()
        .into_inner()
        .batches;
    let settled: Vec<u64> = batches
        .iter()
        .flat_map(|b| b.jobs.iter().map(|j| j.job_id))
        .collect();
    let unique: BTreeSet<u64> = settled.iter().copied().collect();
    assert_eq!(settled.len(), 200);
    assert_eq!(unique, ids.iter().copied().collect());
    assert!(batches.iter().all(|b| b.jobs.len() <= 20));
    // Metrics are served.
    let metrics = http_get(net.router.as_ref().unwrap().metrics_addr.unwrap()).await;
    assert!(
        metrics.contains("havn_router_jobs_settled_total 200"),
        "{metrics}"
    );
}

async fn http_get(addr: std::net::SocketAddr) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\n\r\n").await.unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).await.unwrap();
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_mid_job_has_its_jobs_finished_elsewhere() {
    let net = Net::start(2, 4, |_| {}).await;
    let mut first = net.node(0, Executors::builtin());
    let _validators: Vec<Daemon> = (0..4).map(|i| net.validator(i)).collect();
    let mut c = net.client().await;
    // Slow jobs (a fraction of a second of hashing each), all on node-0 at first.
    let mut ids = Vec::new();
    for i in 0..4 {
        let mut req = net.request(&format!("slow {i}"));
        req.parameters.insert("rounds".into(), "300000".into());
        ids.push(c.submit_job(req).await.unwrap().into_inner().job_id);
    }
    let mut assigned = false;
    for _ in 0..100 {
        let e = c
            .get_job(get(ids[0]))
            .await
            .unwrap()
            .into_inner()
            .job
            .unwrap();
        if e.state == JobState::Assigned as i32 && e.node == "node-0" {
            assigned = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(assigned, "node-0 never took the job");
    first.kill();
    let _second = net.node(1, Executors::builtin());
    for id in &ids {
        let e = finish(&mut c, *id).await;
        assert_eq!(
            JobState::try_from(e.state).unwrap(),
            JobState::Settled,
            "{e:?}"
        );
        assert_eq!(e.node, "node-1");
        assert!(e.attempt >= 2, "reassigned, attempt kept counting: {e:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_validator_down_still_reaches_quorum() {
    let net = Net::start(1, 4, |_| {}).await;
    let _node = net.node(0, Executors::builtin());
    let _validators: Vec<Daemon> = (0..3).map(|i| net.validator(i)).collect();
    let mut c = net.client().await;
    let id = net.submit(&mut c, "x").await;
    let e = finish(&mut c, id).await;
    assert_eq!(JobState::try_from(e.state).unwrap(), JobState::Settled);
    assert_eq!(e.attestations.len(), 3);
}

/// A fresh CA and a router certificate it signed for `localhost` and 127.0.0.1, as PEM files in
/// `dir`: (ca, cert, key).
fn test_certs(dir: &std::path::Path) -> [std::path::PathBuf; 3] {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&key, &ca, &ca_key)
        .unwrap();
    let paths = ["ca.pem", "router.crt", "router.key"].map(|f| dir.join(f));
    std::fs::write(&paths[0], ca.pem()).unwrap();
    std::fs::write(&paths[1], leaf.pem()).unwrap();
    std::fs::write(&paths[2], key.serialize_pem()).unwrap();
    paths
}

/// Issue 16, item 10: the whole loop over TLS. A node and validators dial the router over
/// https:// trusting a private CA, a caller submits and follows a job to its quorum; a plaintext
/// client and one that does not trust the CA get nothing; a router told to listen beyond
/// loopback without a certificate does not start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mesh_runs_over_tls_and_refuses_plaintext_beyond_loopback() {
    use havn_mesh_common::tls::{endpoint, ClientTls, ServerTls, TlsError};
    let certs = tempfile::tempdir().unwrap();
    let [ca, cert_file, key_file] = test_certs(certs.path());
    let mut net = Net::start(1, 3, |c| {
        c.tls = Some(ServerTls {
            cert_file,
            key_file,
        })
    })
    .await;
    let port = net.router.as_ref().unwrap().addr.port();
    net.url = format!("https://localhost:{port}");
    net.tls = ClientTls {
        ca_file: Some(ca),
        ..ClientTls::default()
    };
    let _node = net.node(0, Executors::builtin());
    let _validators: Vec<Daemon> = (0..3).map(|i| net.validator(i)).collect();
    let channel = endpoint(&net.url, &net.tls)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut c = JobServiceClient::new(channel);
    let id = net.submit(&mut c, "over tls").await;
    let e = finish(&mut c, id).await;
    assert_eq!(JobState::try_from(e.state).unwrap(), JobState::Settled);
    assert_eq!(e.attestations.len(), 3, "every validator answered over TLS");

    // Plaintext to the TLS port: no answer.
    let plain = Channel::from_shared(format!("http://127.0.0.1:{port}"))
        .unwrap()
        .connect()
        .await;
    if let Ok(ch) = plain {
        let r = JobServiceClient::new(ch)
            .get_job(GetJobRequest {
                job_id: id,
                ..Default::default()
            })
            .await;
        assert!(r.is_err(), "a plaintext call was answered: {r:?}");
    }
    // TLS without trusting the CA (the public roots only): the handshake fails.
    let untrusted = endpoint(&net.url, &ClientTls::default())
        .unwrap()
        .connect()
        .await;
    assert!(
        untrusted.is_err(),
        "a certificate from an unknown CA was accepted"
    );

    // A router listening beyond loopback without a certificate does not start.
    let dir = tempfile::tempdir().unwrap();
    let open = RouterConfig {
        listen: "0.0.0.0:0".parse().unwrap(),
        ..router_config(dir.path())
    };
    let err = Router::start(open, net.operators.clone())
        .await
        .err()
        .unwrap();
    assert!(
        matches!(
            err,
            havn_router::RouterError::Tls(TlsError::PlaintextListen { .. })
        ),
        "{err}"
    );
}

/// Issue 16, item 9: anyone sees a job's state; only its caller, signing the read digest for
/// that job, gets the output bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_caller_reads_a_jobs_output() {
    let net = Net::start(1, 4, |_| {}).await;
    let _node = net.node(0, Executors::builtin());
    let _validators: Vec<Daemon> = (0..4).map(|i| net.validator(i)).collect();
    let mut c = net.client().await;
    let id = net.submit(&mut c, "private input").await;
    let done = finish(&mut c, id).await;
    assert_eq!(JobState::try_from(done.state).unwrap(), JobState::Settled);
    let output = done.output.clone().unwrap();
    assert!(
        !output.output.is_empty(),
        "the caller's watch carries the output"
    );

    let stranger = key("stranger");
    let stranger_digest = havn_types::mesh::read_digest(CHAIN, LOG, id);
    let mut other_job = get(id + 1);
    other_job.job_id = id;
    for (who, request) in [
        (
            "unsigned",
            GetJobRequest {
                job_id: id,
                ..Default::default()
            },
        ),
        (
            "a stranger's key",
            GetJobRequest {
                job_id: id,
                pubkey: keys::pubkey(&stranger),
                signature: keys::sign(&stranger, &stranger_digest),
            },
        ),
        ("the caller's signature for another job", other_job),
    ] {
        let e = c.get_job(request).await.unwrap().into_inner().job.unwrap();
        assert_eq!(e.state, done.state, "{who}: the state is public");
        let o = e.output.unwrap();
        assert!(o.output.is_empty(), "{who} got the output");
        assert_eq!(
            o.output_hash, output.output_hash,
            "{who}: the hash is public"
        );
    }
    let mut stream = c
        .watch_job(WatchJobRequest {
            job_id: id,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let e = stream.message().await.unwrap().unwrap();
    assert!(
        e.output.unwrap().output.is_empty(),
        "an unsigned watch got the output"
    );
    let e = c.get_job(get(id)).await.unwrap().into_inner().job.unwrap();
    assert_eq!(e.output.unwrap().output, output.output);
}

/// Returns valid-looking but wrong bytes, signed properly.
struct Garbage;

impl Executor for Garbage {
    fn kind(&self) -> &str {
        havn_mesh_common::pipeline::DIGEST_KIND
    }
    fn runtime(&self) -> (String, String, String) {
        DigestExecutor.runtime()
    }
    fn run(
        &self,
        _: &Manifest,
        job: &JobInput<'_>,
        _: &mut dyn FnMut(u32, u32),
        _: &AtomicBool,
    ) -> Result<Vec<u8>, ExecError> {
        Ok(havn_mesh_common::sha256(job.input).to_vec())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_returning_garbage_gets_an_invalid_verdict() {
    let net = Net::start(1, 4, |_| {}).await;
    let mut executors = Executors::default();
    executors.add(Arc::new(Garbage));
    let _node = net.node(0, executors);
    let _validators: Vec<Daemon> = (0..4).map(|i| net.validator(i)).collect();
    let mut c = net.client().await;
    let id = net.submit(&mut c, "x").await;
    let e = finish(&mut c, id).await;
    assert_eq!(JobState::try_from(e.state).unwrap(), JobState::Failed);
    assert_eq!(e.reason, "a validator quorum attested the result invalid");
    assert!(e.attestations.len() >= 3);
    assert!(e
        .attestations
        .iter()
        .all(|a| a.verdict == Verdict::Invalid as i32));
    assert!(e
        .attestations
        .iter()
        .all(|a| attestation_verifies(&net, &e, "x", a)));
    assert!(e.attestations[0]
        .reason
        .contains("re-execution gives a different output"));
    // The invalid result is in a settlement batch too: the chain slashes the node for it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut s = SettlementServiceClient::new(net.channel().await);
    let batches = s
        .list_settlements(ListSettlementsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .batches;
    let job = batches
        .iter()
        .flat_map(|b| &b.jobs)
        .find(|j| j.job_id == id)
        .unwrap();
    assert_eq!(job.verdict, Verdict::Invalid as i32);
}

/// Verification v2 at the shipped defaults (sample rate 0.05, four validators): a node faking
/// 200 jobs with plausible bytes is caught on each job some validator re-executes, since one
/// Invalid escalates the job to every validator: `1 − 0.95⁴` = 18.55 % of them (v1: 0.05 %).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_faking_node_at_the_shipped_defaults_is_caught_as_the_model_says() {
    const JOBS: usize = 200;
    let net = Net::start(1, 4, |_| {}).await;
    let mut executors = Executors::default();
    executors.add(Arc::new(Garbage));
    let _node = net.node(0, executors);
    let _validators: Vec<Daemon> = (0..4).map(|i| net.validator_at_defaults(i)).collect();
    net.wait_for_nodes(1).await;
    let mut c = net.client().await;
    let mut ids = vec![];
    for i in 0..JOBS {
        ids.push(net.submit(&mut c, &format!("fake {i}")).await);
    }
    let (mut caught, mut paid) = (0usize, 0usize);
    for (i, &id) in ids.iter().enumerate() {
        let e = finish(&mut c, id).await;
        match JobState::try_from(e.state).unwrap() {
            JobState::Failed => {
                caught += 1;
                let invalid: Vec<_> = e
                    .attestations
                    .iter()
                    .filter(|a| a.verdict == Verdict::Invalid as i32)
                    .collect();
                assert!(invalid.len() >= 3, "job {id}: an Invalid quorum");
                assert!(invalid.iter().all(|a| attestation_verifies(
                    &net,
                    &e,
                    &format!("fake {i}"),
                    a
                ) && havn_types::Check::from_byte(a.check as u8)
                    .reexecuted()));
            }
            JobState::Settled => {
                paid += 1;
                // Nobody re-executed it: four structural Valid votes, no dissent.
                assert!(e
                    .attestations
                    .iter()
                    .all(|a| a.verdict == Verdict::Valid as i32 && a.check == 0));
            }
            other => panic!("job {id} ended {other:?}"),
        }
    }
    // The model: caught with p = 1 − (1 − r)⁴; the count is binomial, checked at 3.29 σ (99.9 %).
    let r = ValidatorConfig::default().sample_rate;
    let p = 1.0 - (1.0 - r).powi(4);
    let (mean, sd) = (JOBS as f64 * p, (JOBS as f64 * p * (1.0 - p)).sqrt());
    println!(
        "caught {caught} of {JOBS} faked jobs ({:.1} %), model {:.1} % (p = {p:.4}), paid {paid}",
        100.0 * caught as f64 / JOBS as f64,
        100.0 * p
    );
    assert_eq!(caught + paid, JOBS);
    assert!(
        (caught as f64 - mean).abs() <= 3.29 * sd,
        "caught {caught}, model {mean:.1} ± {:.1}",
        3.29 * sd
    );
    // Every caught job is in a settlement batch as Invalid, for the chain's fraud slash.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut s = SettlementServiceClient::new(net.channel().await);
    let batches = s
        .list_settlements(ListSettlementsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .batches;
    let invalid = batches
        .iter()
        .flat_map(|b| &b.jobs)
        .filter(|j| j.verdict == Verdict::Invalid as i32)
        .count();
    assert_eq!(invalid, caught);
}

/// Issue 16, item 2: a node submits one chain job to two routers with two different outputs
/// (or a router replays a job with another). An honest validator connected to both signs one of
/// them only: two signed results for one job would be double-signing evidence against it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_validator_never_signs_two_results_for_one_job() {
    const JOB: u64 = 77;
    let net = Net::start(2, 4, |_| {}).await;
    let dir2 = tempfile::tempdir().unwrap();
    let second = Router::start(router_config(dir2.path()), net.operators.clone())
        .await
        .unwrap();
    let (manifest, _) = digest_manifest("e2e", 10);
    second.artifacts.put(&manifest).unwrap();
    let url2 = format!("http://{}", second.addr);
    // The same node key behind both: honest on the first router, faking on the second.
    let _honest = net.node(0, Executors::builtin());
    let mut fake = Executors::default();
    fake.add(Arc::new(Garbage));
    let cfg = NodeConfig {
        routers: vec![url2.clone()],
        operator: "node-0".into(),
        cache_dir: dir2.path().join("node-0"),
        ..NodeConfig::default()
    };
    let node = Node::new(cfg, key("node-0"), fake).unwrap();
    let _faking = Daemon::spawn(move |stop| async move {
        node.run(async {
            let _ = stop.await;
        })
        .await
    });
    let cache_dir = net.dir.path().join("validator-0");
    let cfg = ValidatorConfig {
        routers: vec![net.url.clone(), url2.clone()],
        operator: "validator-0".into(),
        cache_dir,
        ..ValidatorConfig::default()
    };
    let v = Validator::new(
        cfg,
        key("validator-0"),
        net.operators.clone(),
        Executors::builtin(),
    )
    .unwrap();
    let _validator = Daemon::spawn(move |stop| async move {
        v.run(async {
            let _ = stop.await;
        })
        .await
    });
    let mut request = net.request("one job, two results");
    request.chain_job_id = JOB;
    let (mut a, mut b) = (net.client().await, client(&url2).await);
    a.submit_job(request.clone()).await.unwrap();
    b.submit_job(request).await.unwrap();
    // Until both results are in and the validator has answered what it will.
    let mut signed = vec![];
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        signed.clear();
        let mut outputs = 0;
        for c in [&mut a, &mut b] {
            let job = c.get_job(get(JOB)).await.unwrap().into_inner().job.unwrap();
            let output = job.output.unwrap_or_default();
            outputs += usize::from(!output.output_hash.is_empty());
            signed.extend(
                job.attestations
                    .iter()
                    .filter(|a| a.validator == "validator-0")
                    .map(|_| output.output_hash.clone()),
            );
        }
        if outputs == 2 && !signed.is_empty() {
            tokio::time::sleep(Duration::from_secs(2)).await;
            break;
        }
    }
    let mut outputs_signed: Vec<_> = vec![];
    for c in [&mut a, &mut b] {
        let job = c.get_job(get(JOB)).await.unwrap().into_inner().job.unwrap();
        let output = job.output.unwrap_or_default();
        if job
            .attestations
            .iter()
            .any(|a| a.validator == "validator-0")
        {
            outputs_signed.push(output.output_hash);
        }
    }
    assert_eq!(
        outputs_signed.len(),
        1,
        "signed for {} results",
        outputs_signed.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_keys_and_wrong_signatures_are_refused() {
    let net = Net::start(1, 0, |_| {}).await;
    for (operator, signer) in [
        ("intruder", "intruder"),
        ("node-0", "not-node-0"),
        ("validator-0", "validator-0"),
    ] {
        let channel = net.channel().await;
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let mut inbound = NodeLinkClient::new(channel)
            .connect(tokio_stream::wrappers::ReceiverStream::new(rx))
            .await
            .unwrap()
            .into_inner();
        let Some(router_message::Body::Challenge(ch)) =
            inbound.message().await.unwrap().unwrap().body
        else {
            panic!("expected a challenge");
        };
        let nonce: [u8; 32] = ch.nonce.try_into().unwrap();
        tx.send(NodeMessage {
            job_id: 0,
            body: Some(node_message::Body::Hello(NodeHello {
                operator: operator.into(),
                signature: keys::sign(&key(signer), &hello_digest(&nonce, operator)),
                slots: 1,
                ..Default::default()
            })),
        })
        .await
        .unwrap();
        let status = inbound.message().await.unwrap_err();
        assert_eq!(
            status.code(),
            Code::PermissionDenied,
            "{operator}: {status:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_clear_status_codes() {
    let net = Net::start(1, 4, |c| {
        c.max_input_bytes = 16;
        c.max_queue = 2;
    })
    .await;
    let mut c = net.client().await;
    let code =
        |r: Result<tonic::Response<havn_mesh_proto::v1::SubmitJobResponse>, tonic::Status>| {
            let s = r.unwrap_err();
            (s.code(), s.message().to_string())
        };
    let (k, m) = code(c.submit_job(net.request("seventeen bytes!!")).await);
    assert_eq!(k, Code::InvalidArgument);
    assert!(m.contains("input is 17 bytes; the limit is 16"), "{m}");
    let mut unknown = net.request("x");
    unknown.workflow.as_mut().unwrap().version_hash = vec![9; 32];
    let (k, m) = code(c.submit_job(unknown).await);
    assert_eq!(k, Code::NotFound);
    assert!(m.starts_with("unknown workflow version"), "{m}");
    let mut short = net.request("x");
    short.workflow.as_mut().unwrap().version_hash = vec![9; 5];
    assert_eq!(code(c.submit_job(short).await).0, Code::InvalidArgument);
    let mut none = net.request("x");
    none.workflow = None;
    assert_eq!(code(c.submit_job(none).await).1, "workflow is required");
    let mut no_input = net.request("x");
    no_input.input = None;
    assert_eq!(code(c.submit_job(no_input).await).0, Code::InvalidArgument);
    let mut by_hash = net.request("x");
    by_hash.input = Some(submit_job_request::Input::InputHash(vec![1; 32]));
    assert_eq!(code(c.submit_job(by_hash).await).0, Code::NotFound);
    // No nodes: the queue fills, then overload is explicit.
    let a = net.submit(&mut c, "a").await;
    c.submit_job(net.request("b")).await.unwrap();
    let (k, m) = code(c.submit_job(net.request("c")).await);
    assert_eq!(k, Code::ResourceExhausted);
    assert!(m.contains("queue is full"), "{m}");
    // Only the caller cancels: an unsigned cancel, or one by another key, is refused.
    let unsigned = CancelJobRequest {
        job_id: a,
        ..Default::default()
    };
    let denied = |r: Result<tonic::Response<_>, tonic::Status>| r.unwrap_err().code();
    assert_eq!(denied(c.cancel_job(unsigned).await), Code::PermissionDenied);
    let mallory = SigningKey::from_slice(&[43u8; 32]).unwrap();
    assert_eq!(
        denied(c.cancel_job(cancel(a, &mallory)).await),
        Code::PermissionDenied
    );
    // The caller's cancel frees a place; cancelling twice is refused; unknown jobs are NOT_FOUND.
    c.cancel_job(cancel(a, &caller_key())).await.unwrap();
    let again = c.cancel_job(cancel(a, &caller_key())).await.unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition);
    c.submit_job(net.request("c")).await.unwrap();
    let missing = c.get_job(get(999)).await.unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    let e = finish(&mut c, a).await;
    assert_eq!(e.state, JobState::Cancelled as i32);
}

/// Request fields that fed unchecked arithmetic panicked the router while it held its lock, and
/// every later call failed on the poisoned lock (issue 16, item 1).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_numbers_get_invalid_argument_and_the_router_keeps_serving() {
    let net = Net::start(1, 0, |_| {}).await;
    let mut c = net.client().await;
    let mut forever = net.request("x");
    forever.deadline_ms = u64::MAX;
    let e = c.submit_job(forever).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("deadline_ms"), "{}", e.message());
    let mut last_id = net.request("y");
    last_id.chain_job_id = u64::MAX;
    let e = c.submit_job(last_id).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    // A week is allowed; the router still serves.
    let mut week = net.request("z");
    week.deadline_ms = havn_router::core::MAX_DEADLINE_MS;
    c.submit_job(week).await.unwrap();
    let id = net.submit(&mut c, "after").await;
    c.get_job(get(id)).await.unwrap();
}

/// Issue 16, item 8: one connection holds at most `max_watchers_per_connection` WatchJob streams
/// (the rest get RESOURCE_EXHAUSTED); closing one frees its place, and another connection is
/// not affected. The bound is the shipped default: 1024 streams over one connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watchers_per_connection_are_bounded() {
    let net = Net::start(0, 0, |_| {}).await;
    let max = RouterConfig::default().max_watchers_per_connection;
    let per_job = RouterConfig::default().max_watchers_per_job;
    let mut c = net.client().await;
    let mut ids = vec![];
    for i in 0..max.div_ceil(per_job) + 1 {
        ids.push(net.submit(&mut c, &format!("watched {i}")).await);
    }
    let mut open = vec![];
    for n in 0..max {
        let s = c
            .watch_job(watch(ids[n / per_job]))
            .await
            .unwrap()
            .into_inner();
        open.push(s);
    }
    for s in &mut open {
        assert_eq!(
            s.message().await.unwrap().unwrap().state,
            JobState::Queued as i32
        );
    }
    let last = *ids.last().unwrap();
    let e = c.watch_job(watch(last)).await.unwrap_err();
    assert_eq!(e.code(), Code::ResourceExhausted, "{e:?}");
    // Another connection watches the same job.
    let mut other = net.client().await;
    other.watch_job(watch(last)).await.unwrap();
    // A closed stream frees its place (the router notices on its next send or at once).
    drop(open.pop());
    let mut freed = false;
    for _ in 0..100 {
        if c.watch_job(watch(last)).await.is_ok() {
            freed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(freed, "a closed stream kept its place");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_reports_serving_then_not_serving_on_drain() {
    use tonic_health::pb::health_client::HealthClient;
    use tonic_health::pb::HealthCheckRequest;
    let mut net = Net::start(1, 0, |_| {}).await;
    let channel = net.channel().await;
    let mut health = HealthClient::new(channel);
    let status = health
        .check(HealthCheckRequest {
            service: "havn.mesh.v1.JobService".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .status;
    assert_eq!(status, 1, "SERVING");
    let router = net.router.take().unwrap();
    let started = std::time::Instant::now();
    router.stop().await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "drain is bounded"
    );
}

#[test]
fn a_router_killed_with_sigkill_loses_no_accepted_job() {
    let dir = tempfile::tempdir().unwrap();
    let ops = operators(1, 4);
    std::fs::write(dir.path().join("operators.toml"), ops.to_toml()).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let config = format!(
        "listen = \"127.0.0.1:{port}\"\ndata_dir = \"{d}/router\"\nartifacts_dir = \"{d}/artifacts\"\noperators_file = \"{d}/operators.toml\"\nchain_id = \"{CHAIN}\"\nexecution_log = \"{LOG}\"\nheartbeat_interval_ms = 200\nsettlement_interval_ms = 100\n",
        d = dir.path().display()
    );
    std::fs::write(dir.path().join("router.toml"), config).unwrap();
    let (manifest, version) = digest_manifest("e2e", 10);
    havn_mesh_common::artifacts::ArtifactDir::open(&dir.path().join("artifacts"))
        .unwrap()
        .put(&manifest)
        .unwrap();
    let start = || {
        RouterProcess(
            std::process::Command::new(env!("CARGO_BIN_EXE_havn-router"))
                .arg("--config")
                .arg(dir.path().join("router.toml"))
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap(),
        )
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut router = start();
    let request = |i: u32| SubmitJobRequest {
        workflow: Some(WorkflowRef {
            workflow_id: 1,
            version_hash: version.to_vec(),
        }),
        input: Some(submit_job_request::Input::InlineInput(
            format!("in {i}").into_bytes(),
        )),
        caller: caller_address(),
        ..Default::default()
    };
    // No node is connected: every accepted job is still queued when the router dies.
    let ids: Vec<u64> = rt.block_on(async {
        let mut c = connect_retry(&url).await;
        let mut ids = vec![];
        for i in 0..30 {
            ids.push(c.submit_job(request(i)).await.unwrap().into_inner().job_id);
        }
        ids
    });
    router.sigkill();
    let _router = start();
    let states: Vec<i32> = rt.block_on(async {
        let mut c = connect_retry(&url).await;
        // A watcher resumes from the job's state as stored.
        let first = c
            .get_job(get(ids[0]))
            .await
            .unwrap()
            .into_inner()
            .job
            .unwrap();
        assert_eq!(first.state, JobState::Queued as i32);
        let net = Net {
            dir: tempfile::tempdir().unwrap(),
            operators: Arc::new(ops.clone()),
            router: None,
            url: url.clone(),
            tls: Default::default(),
            version,
        };
        let _node = net.node(0, Executors::builtin());
        let _validators: Vec<Daemon> = (0..4).map(|i| net.validator(i)).collect();
        let mut states = vec![];
        for id in &ids {
            states.push(finish(&mut c, *id).await.state);
        }
        // A new job after the restart does not reuse an id.
        let next = c.submit_job(request(99)).await.unwrap().into_inner().job_id;
        assert!(next > *ids.iter().max().unwrap());
        states
    });
    assert!(
        states.iter().all(|s| *s == JobState::Settled as i32),
        "{states:?}"
    );
}

/// The router binary; killed (SIGKILL) and reaped when dropped, even if the test fails.
struct RouterProcess(std::process::Child);

impl RouterProcess {
    fn sigkill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for RouterProcess {
    fn drop(&mut self) {
        self.sigkill();
    }
}

async fn connect_retry(url: &str) -> JobServiceClient<Channel> {
    for _ in 0..200 {
        if let Ok(ch) = Channel::from_shared(url.to_string())
            .unwrap()
            .connect()
            .await
        {
            return JobServiceClient::new(ch);
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("router at {url} did not come up");
}

/// Records the batches it is handed; refuses the first one once, to show the retry.
#[derive(Default)]
struct Recording {
    batches: std::sync::Mutex<Vec<havn_mesh_proto::v1::SettlementBatch>>,
    refused: std::sync::atomic::AtomicBool,
}

impl havn_router::settlement::Settlement for Recording {
    fn submit<'a>(
        &'a self,
        batch: &'a havn_mesh_proto::v1::SettlementBatch,
    ) -> havn_router::settlement::SettleFuture<'a, havn_router::settlement::Outcomes> {
        Box::pin(async move {
            if !self.refused.swap(true, std::sync::atomic::Ordering::SeqCst) {
                return Err("chain unavailable".to_string());
            }
            self.batches.lock().unwrap().push(batch.clone());
            Ok(vec![])
        })
    }
}

/// Stands in for the execution log: refuses the jobs in `refuse` once each (as the log refuses
/// a job whose node was jailed), records the rest with a window, and pays when the test says.
#[derive(Default)]
struct FakeLog {
    refuse: std::sync::Mutex<BTreeSet<u64>>,
    batches: std::sync::Mutex<Vec<havn_mesh_proto::v1::SettlementBatch>>,
    sink: std::sync::Mutex<Option<havn_router::settlement::OutcomeSink>>,
}

const NOT_BONDED: &str = "node-0 is not a bonded, unjailed node";

fn outcome(name: &str, reason: &str, window_ends: u64) -> havn_mesh_proto::v1::ChainOutcome {
    havn_mesh_proto::v1::ChainOutcome {
        outcome: name.into(),
        reason: reason.into(),
        window_ends,
        tx_hash: "ab".repeat(32),
        height: 7,
    }
}

impl havn_router::settlement::Settlement for FakeLog {
    fn submit<'a>(
        &'a self,
        batch: &'a havn_mesh_proto::v1::SettlementBatch,
    ) -> havn_router::settlement::SettleFuture<'a, havn_router::settlement::Outcomes> {
        Box::pin(async move {
            self.batches.lock().unwrap().push(batch.clone());
            let mut refuse = self.refuse.lock().unwrap();
            Ok(batch
                .jobs
                .iter()
                .map(|j| match refuse.remove(&j.job_id) {
                    true => (j.job_id, outcome("rejected", NOT_BONDED, 0)),
                    false => (j.job_id, outcome("recorded", "", 100)),
                })
                .collect())
        })
    }

    fn on_chain(&self) -> bool {
        true
    }

    fn follow_up(&self, sink: havn_router::settlement::OutcomeSink, _recorded: Vec<(u64, u64)>) {
        *self.sink.lock().unwrap() = Some(sink);
    }
}

/// Watches a job until `until` holds for an event; returns every event seen.
async fn watch_until(
    client: &mut JobServiceClient<Channel>,
    job_id: u64,
    until: impl Fn(&JobEvent) -> bool,
) -> Vec<JobEvent> {
    let mut stream = client.watch_job(watch(job_id)).await.unwrap().into_inner();
    let mut seen = vec![];
    let wait = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(e) = stream.message().await.unwrap() {
            let stop = until(&e);
            seen.push(e);
            if stop {
                return;
            }
        }
    });
    wait.await
        .unwrap_or_else(|_| panic!("job {job_id}: not there within 60 s: {seen:?}"));
    seen
}

fn state_of(e: &JobEvent) -> JobState {
    JobState::try_from(e.state).unwrap()
}

/// The chain's verdict reaches the mesh: a job the log refused is REJECTED with its reason (not
/// SETTLED), kept as a dead letter the operator lists and re-drives; recorded jobs wait out their
/// window (RECORDED) and become PAID.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chains_verdict_reaches_the_mesh_and_refused_jobs_are_dead_lettered() {
    let log = Arc::new(FakeLog::default());
    // Router ids start at 1: the first job is the one the log refuses.
    log.refuse.lock().unwrap().insert(1);
    let net = Net::settling(1, 4, |_| {}, log.clone()).await;
    let _node = net.node(0, Executors::builtin());
    let _validators: Vec<Daemon> = (0..4).map(|i| net.validator_at_defaults(i)).collect();
    let mut c = net.client().await;
    let mut ids = vec![];
    for i in 0..3 {
        ids.push(net.submit(&mut c, &format!("chain {i}")).await);
    }
    assert_eq!(ids, [1, 2, 3]);

    // Refused: the stream ends on REJECTED with the chain's words, never claiming success.
    let refused = finish(&mut c, 1).await;
    assert_eq!(state_of(&refused), JobState::Rejected);
    assert!(refused.done);
    assert_eq!(
        refused.reason,
        format!("the chain refused it: {NOT_BONDED}")
    );
    assert_eq!(refused.chain.as_ref().unwrap().outcome, "rejected");
    // Recorded: SETTLED is not the end; the stream goes on to RECORDED with the window.
    for id in [2, 3] {
        let seen = watch_until(&mut c, id, |e| state_of(e) == JobState::Recorded).await;
        let last = seen.last().unwrap();
        assert!(!last.done, "a recorded job is not paid yet");
        assert_eq!(last.chain.as_ref().unwrap().window_ends, 100);
        assert!(
            seen.iter()
                .all(|e| state_of(e) != JobState::Settled || !e.done),
            "SETTLED said done on a router that settles on chain: {seen:?}"
        );
    }

    // The operator lists the dead letter and re-drives it; it settles again and is recorded.
    let mut s = SettlementServiceClient::new(net.channel().await);
    let mut letters = vec![];
    for _ in 0..100 {
        letters = s
            .list_dead_letters(havn_mesh_proto::v1::ListDeadLettersRequest::default())
            .await
            .unwrap()
            .into_inner()
            .dead_letters;
        if !letters.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(letters.len(), 1);
    let letter = &letters[0];
    let job = letter.job.as_ref().unwrap();
    assert_eq!((job.job_id, job.node.as_str()), (1, "node-0"));
    assert_eq!(letter.reason, NOT_BONDED);
    assert!(
        job.attestations.len() >= 3,
        "the dead letter keeps the quorum"
    );
    let redriven = s
        .redrive_job(havn_mesh_proto::v1::RedriveJobRequest { job_id: 1 })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(redriven.state, JobState::Settled as i32);
    let again = s
        .redrive_job(havn_mesh_proto::v1::RedriveJobRequest { job_id: 1 })
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::NotFound, "{again:?}");
    let seen = watch_until(&mut c, 1, |e| state_of(e) == JobState::Recorded).await;
    assert!(seen.last().unwrap().chain.is_some());
    let batches = log.batches.lock().unwrap().clone();
    assert_eq!(
        batches
            .iter()
            .filter(|b| b.jobs.iter().any(|j| j.job_id == 1))
            .count(),
        2,
        "job 1 went to the log twice: first refused, then re-driven: {batches:?}"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(s
        .list_dead_letters(havn_mesh_proto::v1::ListDeadLettersRequest::default())
        .await
        .unwrap()
        .into_inner()
        .dead_letters
        .is_empty());

    // Paid after the window: done, and the stream ends there.
    let sink = log.sink.lock().unwrap().clone().unwrap();
    sink.send(vec![(2, outcome("valid", "", 0))]).unwrap();
    let paid = finish(&mut c, 2).await;
    assert_eq!(state_of(&paid), JobState::Paid);
    assert!(paid.done);
    // An outcome never moves a job back (a re-sent batch answered after it was paid).
    sink.send(vec![(2, outcome("recorded", "", 100))]).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let now = c.get_job(get(2)).await.unwrap().into_inner().job.unwrap();
    assert_eq!(state_of(&now), JobState::Paid);

    // What a restart resumes: the jobs recorded but not yet paid.
    let core = net.router.as_ref().unwrap().core.clone();
    let mut waiting = havn_router::core::lock(&core).recorded_waiting();
    waiting.sort_unstable();
    assert_eq!(waiting, vec![(1, 100), (3, 100)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settlement_batches_reach_the_settlement_sink_with_retries() {
    let sink = Arc::new(Recording::default());
    let net = Net::settling(1, 4, |_| {}, sink.clone()).await;
    let _node = net.node(0, Executors::builtin());
    let _validators: Vec<Daemon> = (0..4).map(|i| net.validator(i)).collect();
    let mut c = net.client().await;
    let ids: Vec<u64> = {
        let mut ids = vec![];
        for i in 0..5 {
            ids.push(net.submit(&mut c, &format!("s{i}")).await);
        }
        ids
    };
    for id in &ids {
        assert_eq!(finish(&mut c, *id).await.state, JobState::Settled as i32);
    }
    for _ in 0..100 {
        let got: BTreeSet<u64> = sink
            .batches
            .lock()
            .unwrap()
            .iter()
            .flat_map(|b| b.jobs.iter().map(|j| j.job_id))
            .collect();
        if got == ids.iter().copied().collect() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "the sink did not receive every job: {:?} of {ids:?}",
        sink.batches
            .lock()
            .unwrap()
            .iter()
            .map(|b| (b.id, b.jobs.iter().map(|j| j.job_id).collect::<Vec<_>>()))
            .collect::<Vec<_>>()
    );
}

const REFLECTED: [&str; 6] = [
    "havn.mesh.v1.JobService",
    "havn.mesh.v1.NodeLink",
    "havn.mesh.v1.ValidatorLink",
    "havn.mesh.v1.ArtifactService",
    "havn.mesh.v1.SettlementService",
    "grpc.health.v1.Health",
];

/// The service names a reflection client of protocol `$pb` (tonic_reflection::pb::v1 or
/// ::v1alpha: the same messages in two packages) lists.
macro_rules! reflected_services {
    ($pb:ident, $channel:expr) => {{
        use tonic_reflection::pb::$pb::server_reflection_client::ServerReflectionClient;
        use tonic_reflection::pb::$pb::server_reflection_request::MessageRequest;
        use tonic_reflection::pb::$pb::server_reflection_response::MessageResponse;
        use tonic_reflection::pb::$pb::ServerReflectionRequest;
        let request = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        };
        let mut stream = ServerReflectionClient::new($channel)
            .server_reflection_info(tokio_stream::iter([request]))
            .await
            .unwrap()
            .into_inner();
        let Some(MessageResponse::ListServicesResponse(list)) =
            stream.message().await.unwrap().unwrap().message_response
        else {
            panic!("expected a service list");
        };
        list.service
            .into_iter()
            .map(|s| s.name)
            .collect::<BTreeSet<String>>()
    }};
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflection_lists_the_services_for_grpcurl() {
    let net = Net::start(1, 0, |_| {}).await;
    let names = reflected_services!(v1, net.channel().await);
    for s in REFLECTED {
        assert!(names.contains(s), "{s} missing from {names:?}");
    }
}

/// The older protocol many tools (Postman, BloomRPC, older grpcurl and Evans) still ask.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflection_v1alpha_lists_the_services_too() {
    let net = Net::start(1, 0, |_| {}).await;
    let names = reflected_services!(v1alpha, net.channel().await);
    for s in REFLECTED {
        assert!(names.contains(s), "{s} missing from {names:?}");
    }
}

/// An executor for another pipeline kind.
struct OtherKind;

impl Executor for OtherKind {
    fn kind(&self) -> &str {
        "test:other"
    }
    fn runtime(&self) -> (String, String, String) {
        ("test:other".into(), "cpu".into(), String::new())
    }
    fn run(
        &self,
        _: &Manifest,
        _: &JobInput<'_>,
        _: &mut dyn FnMut(u32, u32),
        _: &AtomicBool,
    ) -> Result<Vec<u8>, ExecError> {
        Err(ExecError::Failed("never called".into()))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_go_only_to_nodes_that_run_their_pipeline() {
    let net = Net::start(2, 4, |_| {}).await;
    let mut other = Executors::default();
    other.add(Arc::new(OtherKind));
    let _wrong = net.node(0, other);
    net.wait_for_nodes(1).await;
    let _validators: Vec<Daemon> = (0..4).map(|i| net.validator(i)).collect();
    let mut c = net.client().await;
    let id = net.submit(&mut c, "k").await;
    // Only a node that cannot run builtin:digest is connected: the job waits, unassigned.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let e = c.get_job(get(id)).await.unwrap().into_inner().job.unwrap();
    assert_eq!(e.state, JobState::Queued as i32);
    let _right = net.node(1, Executors::builtin());
    let e = finish(&mut c, id).await;
    assert_eq!(e.state, JobState::Settled as i32);
    assert_eq!((e.node.as_str(), e.attempt), ("node-1", 1));
}

/// Sends raw bytes as a gRPC message, whatever they are.
#[derive(Clone, Default)]
struct RawCodec;

struct RawEncoder;
struct RawDecoder;

impl tonic::codec::Encoder for RawEncoder {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn encode(
        &mut self,
        item: Vec<u8>,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        use bytes::BufMut;
        dst.put_slice(&item);
        Ok(())
    }
}

impl tonic::codec::Decoder for RawDecoder {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn decode(
        &mut self,
        src: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<Vec<u8>>, tonic::Status> {
        use bytes::Buf;
        let mut out = vec![0; src.remaining()];
        src.copy_to_slice(&mut out);
        Ok(Some(out))
    }
}

impl tonic::codec::Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawEncoder;
    type Decoder = RawDecoder;
    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }
    fn decoder(&mut self) -> RawDecoder {
        RawDecoder
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_protobuf_gets_a_status_not_a_crash() {
    let net = Net::start(1, 0, |_| {}).await;
    let channel = net.channel().await;
    let mut grpc = tonic::client::Grpc::new(channel);
    // A length-delimited field whose length runs past the end of the message.
    for garbage in [vec![0x0a, 0xff, 0x01, 0x02], vec![0xff; 16]] {
        grpc.ready().await.unwrap();
        let status = grpc
            .unary(
                tonic::Request::new(garbage),
                http::uri::PathAndQuery::from_static("/havn.mesh.v1.JobService/SubmitJob"),
                RawCodec,
            )
            .await
            .unwrap_err();
        assert!(
            matches!(status.code(), Code::Internal | Code::InvalidArgument),
            "{status:?}"
        );
        assert!(status.message().contains("decode"), "{status:?}");
    }
    // The router is still serving.
    let mut c = net.client().await;
    let missing = c.get_job(get(1)).await.unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
}

// ---- The LibTorch runtime through the mesh (needs `make models`) ----

/// The torch executor (CPU) for a daemon's cache dir, at a precision.
fn torch(cache: &std::path::Path, precision: &str) -> Executors {
    havn_runtime::executors(
        cache,
        &havn_runtime::TorchConfig {
            device: "cpu".into(),
            precision: precision.into(),
            ..Default::default()
        },
    )
    .unwrap()
}

/// Publishes the example workflows' manifests and modules to the router; returns them by name.
fn publish_examples(net: &Net) -> BTreeMap<String, [u8; 32]> {
    let dir = havn_runtime::examples::dir();
    havn_runtime::examples::publish(&dir, &net.router.as_ref().unwrap().artifacts).unwrap();
    havn_runtime::examples::load(&dir)
        .unwrap()
        .into_iter()
        .map(|e| (e.name, e.hash))
        .collect()
}

/// A node that fakes: it returns a real output of the same workflow, for another seed (a cached
/// result), claiming the torch runtime.
struct CachedOutputs(Arc<dyn Executor>);

impl Executor for CachedOutputs {
    fn kind(&self) -> &str {
        "torch"
    }
    fn runtime(&self) -> (String, String, String) {
        self.0.runtime()
    }
    fn artifacts(&self, m: &Manifest) -> Result<Vec<[u8; 32]>, ExecError> {
        self.0.artifacts(m)
    }
    fn run(
        &self,
        m: &Manifest,
        job: &JobInput<'_>,
        progress: &mut dyn FnMut(u32, u32),
        cancel: &AtomicBool,
    ) -> Result<Vec<u8>, ExecError> {
        let other = JobInput {
            seed: job.seed + 1,
            ..job.clone()
        };
        self.0.run(m, &other, progress, cancel)
    }
}

/// A router with the examples published, one node with `node` executors (built on its cache
/// dir), and three validators re-executing every job on the f32 CPU runtime.
async fn torch_mesh(
    node: impl FnOnce(&std::path::Path) -> Executors,
) -> (Net, BTreeMap<String, [u8; 32]>, Vec<Daemon>) {
    let net = Net::start(1, 3, |_| {}).await;
    let versions = publish_examples(&net);
    let mut daemons = vec![net.node(0, node(&net.dir.path().join("node-0")))];
    daemons.extend((0..3).map(|i| net.validator_with(i, |d| torch(d, "f32"))));
    (net, versions, daemons)
}

async fn run_examples(
    net: &Net,
    versions: &BTreeMap<String, [u8; 32]>,
    names: &[&str],
) -> Vec<(String, JobEvent)> {
    let mut c = net.client().await;
    let mut ids = vec![];
    for name in names {
        let id = c
            .submit_job(net.request_for(versions[*name], "a small red fox"))
            .await
            .unwrap()
            .into_inner()
            .job_id;
        ids.push((name.to_string(), id));
    }
    let mut out = vec![];
    for (name, id) in ids {
        out.push((name, finish(&mut c, id).await));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn torch_workflows_run_through_the_mesh_and_reexecution_agrees() {
    let (net, versions, _daemons) = torch_mesh(|d| torch(d, "f32")).await;
    // `embed` is the pretrained all-MiniLM-L6-v2 (90 MB, fetched in 1 MiB chunks by the node and
    // each validator); text-to-image merges its LoRA on each of them.
    let names = ["text-to-image", "char-lm", "text-to-audio", "embed"];
    for (name, e) in run_examples(&net, &versions, &names).await {
        assert_eq!(
            JobState::try_from(e.state).unwrap(),
            JobState::Settled,
            "{name}: {}",
            e.reason
        );
        let output = e.output.as_ref().unwrap();
        let runtime = output.runtime.as_ref().unwrap();
        assert!(runtime.executor.starts_with("tch 0.24.0"), "{runtime:?}");
        assert!(e.attestations.len() >= 2);
        for a in &e.attestations {
            assert_eq!(a.verdict, Verdict::Valid as i32);
            // Same machine, same runtime: the ladder's first rung decides.
            assert!(a.reason.starts_with("exact:"), "{name}: {}", a.reason);
        }
        // What the node returned is the file the workflow promises.
        let m = Manifest::parse(
            &std::fs::read(havn_runtime::examples::dir().join(format!("{name}.json"))).unwrap(),
        )
        .unwrap();
        let spec = havn_runtime::TorchPipeline::from_manifest(&m)
            .unwrap()
            .output;
        havn_outputs::inspect(&spec, &output.output).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_faking_torch_outputs_is_caught_by_reexecution() {
    let (net, versions, _daemons) = torch_mesh(|d| {
        let mut executors = Executors::default();
        executors.add(Arc::new(CachedOutputs(
            torch(d, "f32").get("torch").unwrap(),
        )));
        executors
    })
    .await;
    for (name, e) in run_examples(&net, &versions, &["text-to-image", "char-lm"]).await {
        assert_eq!(
            JobState::try_from(e.state).unwrap(),
            JobState::Failed,
            "{name}"
        );
        assert_eq!(e.reason, "a validator quorum attested the result invalid");
        for a in &e.attestations {
            assert_eq!(a.verdict, Verdict::Invalid as i32, "{name}: {}", a.reason);
            assert!(
                a.reason.starts_with("mismatch:") || a.reason.starts_with("tokens:"),
                "{name}: {}",
                a.reason
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_honest_node_on_other_hardware_passes_the_tolerance_ladder() {
    // The node computes every step in f64: other rounding everywhere, the same result.
    let (net, versions, _daemons) = torch_mesh(|d| torch(d, "f64")).await;
    let names = ["text-to-image", "char-lm", "text-to-audio"];
    for (name, e) in run_examples(&net, &versions, &names).await {
        assert_eq!(
            JobState::try_from(e.state).unwrap(),
            JobState::Settled,
            "{name}: {}",
            e.reason
        );
        let device = &e.output.as_ref().unwrap().runtime.as_ref().unwrap().device;
        assert!(device.ends_with("f64"), "{device}");
        for a in &e.attestations {
            assert_eq!(a.verdict, Verdict::Valid as i32, "{name}: {}", a.reason);
        }
    }
}
