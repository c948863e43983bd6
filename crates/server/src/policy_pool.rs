//! Where policies are compiled and evaluated: off the async workers, on a
//! bounded set of blocking threads, each job within a time budget.
//!
//! Policy work is CPU-bound and its cost is chosen by whoever wrote the
//! policy (a Rego `numbers.range` loop, a draft policy in an anonymous
//! attest request). Run inline it would stall an async worker thread and,
//! with it, every other request on that thread — `/certs` included — and
//! the request timeout could not fire. Here every job runs on one of the
//! pool's own `policy_workers` threads, holding two permits:
//!
//! - one of the provider's `policy_workers_per_provider`, so one tenant's
//!   slow policy occupies at most that many threads and other tenants keep
//!   the rest;
//! - one of the node's `policy_workers`.
//!
//! Before a job starts, the provider's policy CPU bucket must not be empty
//! (`policy_cpu_ms_per_provider_per_sec`, burst
//! `policy_cpu_ms_per_provider_burst`); when the job ends its thread time
//! is debited, overruns included. A tenant whose policies are slow thus
//! gets 429 `TooManyRequests` once it has used its share, instead of
//! keeping its threads busy and the node's cores with them.
//!
//! Draft policies are not the provider's: anyone may send one with an
//! attest request to any provider's URL. They run in their own [`Lane`]:
//! all drafts together hold one thread (they are for writing policies, not
//! for production traffic), and each sending client address has its own
//! CPU bucket. A flood of costly
//! drafts at a tenant's URL therefore spends the sender's budget and the
//! drafts' threads, never the tenant's, whose stored policies keep running.
//!
//! The pool's threads run at a lower scheduling priority
//! (`limits.policy_thread_nice`, Linux): while a costly policy runs, the
//! request workers beside it — verifying everyone else's evidence — still
//! get most of the CPU, instead of an equal share with it.
//!
//! The caller waits at most `policy_time_budget_ms` in all (queueing
//! included) and then answers 400 `PolicyEvaluationError` naming the
//! budget — or 503 when the node's pool as a whole is saturated. A job that
//! overruns cannot be cancelled (Rust threads are not preemptible); it keeps
//! its permits until it ends, so runaway jobs stay counted and a tenant's
//! runaways only ever consume that tenant's share.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use tokio::sync::Semaphore;
use tokio::time::{Instant, timeout_at};

use crate::config::LimitsConfig;
use crate::error::ApiError;
use crate::throttle::Buckets;

/// The threads all draft policies share (a NUL never appears in a
/// provider name).
const DRAFT_LANE: &str = "\0drafts";

/// Whose share a policy job is charged to (module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lane {
    /// The provider's own policies: stored, or being set by its operator.
    Provider(String),
    /// A draft policy sent with an attest request to `provider`: charged
    /// to the drafts' shared threads and to the sender's CPU bucket.
    Draft { provider: String, client: IpAddr },
}

impl Lane {
    /// The semaphore key: the provider, or the one lane all drafts share.
    fn threads(&self) -> String {
        match self {
            Lane::Provider(p) => p.clone(),
            Lane::Draft { .. } => DRAFT_LANE.into(),
        }
    }

    /// The CPU bucket key: the provider, or the draft's sender.
    fn cpu(&self) -> String {
        match self {
            Lane::Provider(p) => p.clone(),
            Lane::Draft { client, .. } => format!("\0draft:{client}"),
        }
    }

    /// Whose `what` ("evaluation", "compilation"), in error messages.
    fn describe(&self, what: &str) -> String {
        match self {
            Lane::Provider(p) => format!("the policy {what} for provider '{p}'"),
            Lane::Draft { provider, .. } => {
                format!("the draft policy {what} sent to provider '{provider}'")
            }
        }
    }
}

/// The bounded policy thread pool (module docs).
#[derive(Debug)]
pub struct PolicyPool {
    global: Arc<Semaphore>,
    per_provider: Mutex<HashMap<String, Arc<Semaphore>>>,
    per_provider_permits: usize,
    /// Policy thread milliseconds per provider.
    cpu: Arc<Buckets<String>>,
    budget: Duration,
    /// Jobs for the pool's threads; dropping it ends them.
    jobs: Mutex<std::sync::mpsc::Sender<Job>>,
}

type Job = Box<dyn FnOnce() + Send>;

/// Start the pool's `n` threads, each at `nice` (Linux; 0: unchanged);
/// returns the job queue and how many threads started.
fn spawn_workers(n: usize, nice: i32) -> (std::sync::mpsc::Sender<Job>, usize) {
    let (tx, rx) = std::sync::mpsc::channel::<Job>();
    let rx = Arc::new(Mutex::new(rx));
    let mut started = 0;
    for i in 0..n {
        let rx = rx.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("attesta-policy-{i}"))
            .spawn(move || {
                lower_priority(nice);
                loop {
                    let job = match rx.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => return,
                    };
                    let Ok(job) = job else { return };
                    // A panicking job drops its result sender (its caller
                    // gets an error); the thread lives on.
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                }
            });
        match spawned {
            Ok(_) => started += 1,
            Err(e) => tracing::error!(error = %e, "could not start a policy thread"),
        }
    }
    (tx, started)
}

/// Make the calling thread `nice` steps less favoured by the scheduler.
/// Raising one's own nice value needs no privilege; failure only costs the
/// isolation, so it is logged, not fatal.
#[cfg(target_os = "linux")]
fn lower_priority(nice: i32) {
    if nice == 0 {
        return;
    }
    let tid = rustix::thread::gettid();
    if let Err(e) = rustix::process::setpriority_process(Some(tid), nice) {
        tracing::warn!(error = %e, nice, "could not lower a policy thread's priority");
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority(_nice: i32) {}

impl PolicyPool {
    pub fn new(limits: &LimitsConfig) -> Self {
        let (jobs, threads) = spawn_workers(limits.policy_workers, limits.policy_thread_nice);
        Self {
            // One permit per thread that started: a job holding one always
            // finds a thread free.
            global: Arc::new(Semaphore::new(threads)),
            per_provider: Mutex::new(HashMap::new()),
            per_provider_permits: limits
                .policy_workers_per_provider
                .min(limits.policy_workers),
            cpu: Arc::new(Buckets::new(
                limits.policy_cpu_ms_per_provider_per_sec,
                limits.policy_cpu_ms_per_provider_burst,
                limits.max_tracked_clients,
            )),
            budget: Duration::from_millis(limits.policy_time_budget_ms),
            jobs: Mutex::new(jobs),
        }
    }

    /// The time budget of one job.
    pub fn budget(&self) -> Duration {
        self.budget
    }

    fn provider_semaphore(&self, provider: &str) -> Arc<Semaphore> {
        let mut map = self.per_provider.lock().expect("policy pool lock");
        if !map.contains_key(provider) && map.len() >= 10_000 {
            // Keep only providers with jobs running.
            let n = self.per_provider_permits;
            map.retain(|_, s| s.available_permits() < n);
        }
        let permits = if provider == DRAFT_LANE {
            1
        } else {
            self.per_provider_permits
        };
        map.entry(provider.to_string())
            .or_insert_with(|| Arc::new(Semaphore::new(permits)))
            .clone()
    }

    fn over_budget(&self, lane: &Lane, what: &str) -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "PolicyEvaluationError",
            format!(
                "{} exceeded its time budget of {} ms; \
                 simplify the policy (bound its loops and iterations) or raise \
                 limits.policy_time_budget_ms",
                lane.describe(what),
                self.budget.as_millis()
            ),
        )
    }

    /// Run `job` on the pool for `provider`'s own policy; `what` names it in
    /// errors ("evaluation", "compilation").
    pub async fn run<T, F>(&self, provider: &str, what: &str, job: F) -> Result<T, ApiError>
    where
        F: FnOnce() -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        self.run_in(&Lane::Provider(provider.to_string()), what, job)
            .await
    }

    /// Run `job` on the pool, charged to `lane`.
    pub async fn run_in<T, F>(&self, lane: &Lane, what: &str, job: F) -> Result<T, ApiError>
    where
        F: FnOnce() -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        let key = lane.cpu();
        if let Err(secs) = self.cpu.check(&key) {
            let whose = match lane {
                Lane::Provider(p) => format!("provider '{p}' has used its policy time"),
                Lane::Draft { .. } => {
                    "draft policies from this client have used their policy time".into()
                }
            };
            return Err(ApiError::too_many_requests(
                format!(
                    "{whose} (limits.policy_cpu_ms_per_provider_per_sec); simplify the policy or \
                     retry after {secs} s"
                ),
                secs,
            ));
        }
        let deadline = Instant::now() + self.budget;
        let own = self.provider_semaphore(&lane.threads());
        // Waiting on the provider's own share means its earlier jobs are
        // still running: the policy's cost, so its error.
        let own = match timeout_at(deadline, own.acquire_owned()).await {
            Ok(Ok(p)) => p,
            Ok(Err(_)) => return Err(ApiError::internal("policy pool closed")),
            Err(_) => return Err(self.over_budget(lane, what)),
        };
        let node = match timeout_at(deadline, self.global.clone().acquire_owned()).await {
            Ok(Ok(p)) => p,
            Ok(Err(_)) => return Err(ApiError::internal("policy pool closed")),
            Err(_) => {
                return Err(ApiError::service_unavailable(
                    "every policy worker of the service is busy; retry after 1 s",
                    1,
                ));
            }
        };
        let cpu = self.cpu.clone();
        let (done, handle) = tokio::sync::oneshot::channel();
        let run: Job = Box::new(move || {
            // The permits live as long as the job, even one that overruns.
            let _permits = (own, node);
            let started = std::time::Instant::now();
            let result = job();
            cpu.debit(&key, started.elapsed().as_secs_f64() * 1000.0);
            let _ = done.send(result);
        });
        // Holding a node permit means a thread is free (one per permit).
        if self
            .jobs
            .lock()
            .expect("policy job queue lock")
            .send(run)
            .is_err()
        {
            return Err(ApiError::internal("the policy threads have ended"));
        }
        match timeout_at(deadline, handle).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(ApiError::internal(format!(
                "policy {what} failed: the job panicked"
            ))),
            Err(_) => {
                tracing::warn!(
                    lane = ?lane,
                    what,
                    budget_ms = self.budget.as_millis() as u64,
                    "policy job over its time budget"
                );
                Err(self.over_budget(lane, what))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(workers: usize, per_provider: usize, budget_ms: u64) -> PolicyPool {
        PolicyPool::new(&LimitsConfig {
            policy_workers: workers,
            policy_workers_per_provider: per_provider,
            policy_time_budget_ms: budget_ms,
            ..LimitsConfig::default()
        })
    }

    #[tokio::test]
    async fn jobs_run_and_overruns_fail_with_the_budget() {
        let p = pool(4, 2, 200);
        assert_eq!(p.run("a", "evaluation", || Ok(7)).await.unwrap(), 7);
        let e = p
            .run("a", "evaluation", || {
                std::thread::sleep(Duration::from_millis(600));
                Ok(())
            })
            .await
            .unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert_eq!(e.code, "PolicyEvaluationError");
        assert!(e.message.contains("time budget of 200 ms"), "{}", e.message);
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn jobs_run_on_the_pools_threads_at_the_configured_nice_value() {
        let nice_of_job = |nice: i32| async move {
            let p = PolicyPool::new(&LimitsConfig {
                policy_thread_nice: nice,
                ..LimitsConfig::default()
            });
            p.run("a", "evaluation", || {
                let tid = rustix::thread::gettid();
                let name = std::thread::current().name().map(str::to_string);
                Ok((
                    rustix::process::getpriority_process(Some(tid)).unwrap(),
                    name,
                ))
            })
            .await
            .unwrap()
        };
        let base = rustix::process::getpriority_process(None).unwrap();
        let (n, name) = nice_of_job(7).await;
        assert_eq!(n, (base + 7).min(19));
        assert!(name.unwrap().starts_with("attesta-policy-"));
        assert_eq!(nice_of_job(0).await.0, base);
    }

    #[tokio::test]
    async fn a_panicking_job_is_an_error_and_its_thread_lives_on() {
        // Budget enough for the panic hook's backtrace in a debug build.
        let p = pool(1, 1, 20_000);
        let e = p
            .run("a", "evaluation", || -> Result<(), ApiError> {
                panic!("boom")
            })
            .await
            .unwrap_err();
        assert_eq!(e.status, StatusCode::INTERNAL_SERVER_ERROR, "{}", e.message);
        assert_eq!(e.code, "InternalError");
        // The only thread still takes work.
        assert_eq!(p.run("a", "evaluation", || Ok(3)).await.unwrap(), 3);
    }

    #[tokio::test]
    async fn one_providers_runaways_do_not_starve_another() {
        let p = Arc::new(pool(4, 2, 300));
        // Provider a occupies its whole share with jobs that overrun.
        for _ in 0..2 {
            let p = p.clone();
            tokio::spawn(async move {
                let _ = p
                    .run("a", "evaluation", || {
                        std::thread::sleep(Duration::from_millis(1500));
                        Ok(())
                    })
                    .await;
            });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        // a's next job cannot start: its own share is busy.
        let e = p.run("a", "evaluation", || Ok(())).await.unwrap_err();
        assert_eq!(e.code, "PolicyEvaluationError");
        // b still runs: had it waited for a's jobs it would be over budget.
        assert_eq!(p.run("b", "evaluation", || Ok(1)).await.unwrap(), 1);
    }
}
